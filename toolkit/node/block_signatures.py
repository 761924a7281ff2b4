"""The sequencer signatures a node holds for its chain's blocks (its own and gossiped ones).

Served by `rollup_getBlockSignature`, used to find which unsafe blocks a slashed validator signed.
A block nobody signed (one derivation made) or whose signature this node never saw has none.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from toolkit.l2.signed_block import SignedBlock

MAX_KEPT = 50_000


@dataclass(frozen=True)
class BlockSignature:
    block: SignedBlock
    signer: str

    def to_json(self) -> dict[str, Any]:
        return {
            "number": hex(self.block.number),
            "blockHash": "0x" + self.block.block_hash.hex(),
            "signer": self.signer,
            "signature": "0x" + self.block.signature.hex(),
        }


class BlockSignatures:
    def __init__(self) -> None:
        self._by_hash: OrderedDict[bytes, BlockSignature] = OrderedDict()

    def add(self, block: SignedBlock, signer: str) -> None:
        self._by_hash[block.block_hash] = BlockSignature(block, signer)
        self._by_hash.move_to_end(block.block_hash)
        while len(self._by_hash) > MAX_KEPT:
            self._by_hash.popitem(last=False)

    def by_hash(self, block_hash: bytes) -> BlockSignature | None:
        return self._by_hash.get(block_hash)

    def forget_above(self, number: int) -> None:
        """A devnet revert: blocks above `number` never happened."""
        for block_hash in [h for h, s in self._by_hash.items() if s.block.number > number]:
            del self._by_hash[block_hash]
