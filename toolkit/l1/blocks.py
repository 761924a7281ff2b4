"""What the L1 says about its blocks and a chain's epoch, as plain values (no client library imports:
the mode table and the CLI's config checks use these without loading web3)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class L1Block:
    number: int
    hash: bytes
    timestamp: int
    parent_hash: bytes = b""  # empty when not known


@dataclass(frozen=True)
class Schedule:
    """The registry's record of a chain's current epoch (decentralised modes)."""

    started: bool
    epoch: int
    skips: int
    last_activity: int
    leader: str
