"""Parameters that define one L2 chain; every node of the chain must share them exactly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GenesisAccount:
    address: str
    balance: int
    code: str = "0x"
    nonce: int = 0
    storage: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class L2ChainConfig:
    chain_id: int
    genesis_timestamp: int
    alloc: tuple[GenesisAccount, ...]
    gas_limit: int = 30_000_000
    initial_base_fee: int = 1_000_000_000
    fee_recipient: str = "0x4200000000000000000000000000000000000011"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["alloc"] = [asdict(account) for account in self.alloc]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> L2ChainConfig:
        alloc = tuple(
            GenesisAccount(
                address=a["address"],
                balance=int(a["balance"]),
                code=a.get("code", "0x"),
                nonce=int(a.get("nonce", 0)),
                storage={int(k): int(v) for k, v in a.get("storage", {}).items()},
            )
            for a in data["alloc"]
        )
        return cls(
            chain_id=int(data["chain_id"]),
            genesis_timestamp=int(data["genesis_timestamp"]),
            alloc=alloc,
            gas_limit=int(data.get("gas_limit", 30_000_000)),
            initial_base_fee=int(data.get("initial_base_fee", 1_000_000_000)),
            fee_recipient=data.get("fee_recipient", "0x4200000000000000000000000000000000000011"),
        )
