"""Contracts every L2 chain has at genesis, at the addresses tools assume on any chain.

- the deterministic CREATE2 deployer (forge script `new C{salt: ...}`),
- Multicall3 (viem / ethers `multicall`),
- the Prague system contracts EIP-2935 (block hashes) and EIP-4788 (beacon roots), with py-evm's
  own code: py-evm's Prague block processing then writes the parent hash / beacon root into them
  in every block, as Ethereum does.

A chain's configured `alloc` wins over a predeploy at the same address.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth.vm.forks.cancun.constants import BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CONTRACT_CODE
from eth.vm.forks.prague.constants import HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CONTRACT_CODE
from eth_utils import to_checksum_address

from toolkit.l2.chain_config import GenesisAccount

_CODE = json.loads((Path(__file__).with_name("predeploys.json")).read_text())

CREATE2_DEPLOYER = _CODE["create2Deployer"]["address"]
MULTICALL3 = _CODE["multicall3"]["address"]
HISTORY_STORAGE = to_checksum_address(HISTORY_STORAGE_ADDRESS)
BEACON_ROOTS = to_checksum_address(BEACON_ROOTS_ADDRESS)


def predeploys() -> tuple[GenesisAccount, ...]:
    """The predeployed accounts (nonce 1, no balance), in a fixed order."""
    return (
        GenesisAccount(CREATE2_DEPLOYER, 0, _CODE["create2Deployer"]["code"], nonce=1),
        GenesisAccount(MULTICALL3, 0, _CODE["multicall3"]["code"], nonce=1),
        GenesisAccount(HISTORY_STORAGE, 0, "0x" + HISTORY_STORAGE_CONTRACT_CODE.hex(), nonce=1),
        GenesisAccount(BEACON_ROOTS, 0, "0x" + BEACON_ROOTS_CONTRACT_CODE.hex(), nonce=1),
    )


def genesis_accounts(alloc: tuple[GenesisAccount, ...]) -> tuple[GenesisAccount, ...]:
    """The predeploys plus a chain's alloc; the alloc wins at a shared address."""
    configured = {account.address.lower() for account in alloc}
    return tuple(p for p in predeploys() if p.address.lower() not in configured) + alloc
