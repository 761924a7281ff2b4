"""L1 traversal: remember the L1 blocks derivation processed, and notice when L1 forked away from them.

op-node checks each new L1 block's parent hash against the block it processed before; here the
hash of the last block of every derivation step is recorded, and before each step the newest
recorded block is compared with what L1 now has at that height. On a mismatch the recorded blocks
are walked back (newest first) to the highest one L1 still has: the fork point. Everything derived
from L1 blocks above it must be forgotten and derived again (see `Derivation.reset_to`).

A block hash commits to all its ancestors, so every L1 block at or below the fork point is
unchanged. Recorded blocks are sparse (one per step), so the fork point found may be a few blocks
lower than the real one: derivation then re-reads a few unchanged blocks, which is harmless.
"""

from __future__ import annotations

from typing import Protocol

from toolkit.l1.client import L1Block

MAX_RECORDED = 4096  # recorded blocks kept; a reorg deeper than this many steps resets derivation


class CanonicalHashes(Protocol):
    async def canonical_hash(self, number: int) -> bytes | None: ...


class L1Traversal:
    def __init__(self) -> None:
        self._hashes: dict[int, bytes] = {}

    def record(self, block: L1Block) -> None:
        self._hashes[block.number] = block.hash
        if len(self._hashes) > MAX_RECORDED:
            del self._hashes[min(self._hashes)]

    def recorded(self, number: int) -> bytes | None:
        return self._hashes.get(number)

    def forget_above(self, number: int) -> None:
        for recorded in [n for n in self._hashes if n > number]:
            del self._hashes[recorded]

    async def fork_point(self, l1: CanonicalHashes, head: L1Block | None = None) -> int | None:
        """None while the newest recorded block is still canonical; otherwise the highest recorded
        block L1 still has (-1 when none is: derive again from the start). With the current `head`,
        the usual cases need no L1 call: the head is the newest recorded block, or its child (parent hash)."""
        if not self._hashes:
            return None
        newest = max(self._hashes)
        if head is not None and head.number == newest and head.hash == self._hashes[newest]:
            return None
        if head is not None and head.number == newest + 1 and head.parent_hash == self._hashes[newest]:
            return None
        if await l1.canonical_hash(newest) == self._hashes[newest]:
            return None
        for number in sorted(self._hashes, reverse=True)[1:]:
            if await l1.canonical_hash(number) == self._hashes[number]:
                return number
        return -1
