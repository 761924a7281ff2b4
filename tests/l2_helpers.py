"""Helpers for tests that drive an in-process L2 executor (no L1 needed)."""

from __future__ import annotations

from typing import Any

from eth_account import Account

from toolkit.accounts import dev_accounts
from toolkit.l2.chain_config import GenesisAccount, L2ChainConfig

CHAIN_ID = 901
ACCOUNTS = dev_accounts(4)


def chain_config(balance: int = 10**22) -> L2ChainConfig:
    return L2ChainConfig(
        chain_id=CHAIN_ID,
        genesis_timestamp=1_700_000_000,
        alloc=tuple(GenesisAccount(a.address, balance) for a in ACCOUNTS),
    )


def transfer(sender: int, nonce: int, value: int = 1, chain_id: int = CHAIN_ID, **extra: Any) -> bytes:
    tx = {
        "type": 2, "chainId": chain_id, "nonce": nonce, "to": ACCOUNTS[3].address, "value": value,
        "gas": 21_000, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 1, **extra,
    }
    return bytes(Account.sign_transaction(tx, ACCOUNTS[sender].private_key).raw_transaction)
