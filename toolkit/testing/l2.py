"""An L2 chain for in-process tests (no L1 needed): its config, dev accounts and signed transfers."""

from __future__ import annotations

from typing import Any

from eth_account import Account

from toolkit.accounts import dev_accounts
from toolkit.l2.chain_config import GenesisAccount, L2ChainConfig

CHAIN_ID = 901
GENESIS_TIMESTAMP = 1_700_000_000
ACCOUNTS = dev_accounts(4)


def chain_config(balance: int = 10**22) -> L2ChainConfig:
    """Chain 901 with ACCOUNTS prefunded with `balance` wei each."""
    return L2ChainConfig(
        chain_id=CHAIN_ID,
        genesis_timestamp=GENESIS_TIMESTAMP,
        alloc=tuple(GenesisAccount(a.address, balance) for a in ACCOUNTS),
    )


def transfer(sender: int, nonce: int, value: int = 1, chain_id: int = CHAIN_ID, **extra: Any) -> bytes:
    """A signed EIP-1559 transfer from ACCOUNTS[sender] to ACCOUNTS[3]; `extra` overrides any field."""
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": ACCOUNTS[3].address,
        "value": value,
        "gas": 21_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 1,
        **extra,
    }
    return bytes(Account.sign_transaction(tx, ACCOUNTS[sender].private_key).raw_transaction)
