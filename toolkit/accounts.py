"""Dev accounts derived from the standard test mnemonic (the same ones Anvil prefunds)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eth_account import Account

TEST_MNEMONIC = "test test test test test test test test test test test junk"

Account.enable_unaudited_hdwallet_features()


@dataclass(frozen=True)
class DevAccount:
    index: int
    address: str
    private_key: str  # 0x-prefixed hex


@cache
def _derive(mnemonic: str, index: int) -> DevAccount:
    account = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
    return DevAccount(index=index, address=account.address, private_key="0x" + account.key.hex())


def dev_accounts(count: int = 10, mnemonic: str = TEST_MNEMONIC) -> list[DevAccount]:
    """The first `count` accounts of the mnemonic, in derivation order."""
    return [_derive(mnemonic, index) for index in range(count)]


def address_of(private_key: str) -> str:
    return Account.from_key(private_key).address
