"""A stand-in for the L1Client's `post_batch`, for driving a Batcher without Anvil.

It records every call, can refuse the next ones the way L1 does (`BatchRejected` with the
custom error's name, e.g. "ForcedTxOverdue ..."), and can deliver accepted batches to an
InMemoryL1 so that a Derivation reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils import keccak

from toolkit.l1.client import BatchRejected
from toolkit.testing.memory_l1 import InMemoryL1


@dataclass(frozen=True)
class PostCall:
    private_key: str
    chain_id: int
    first: int
    last: int
    forced_end: int
    data: bytes
    attestations: bytes


@dataclass
class RecordingPoster:
    l1: InMemoryL1 | None = None  # where accepted batches land (mined at once); None: nowhere
    calls: list[PostCall] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # each call pops one and raises it, while any are left

    def refuse_next(self, reason: str) -> None:
        """Make the next call raise BatchRejected(reason), as L1 refusing the batch."""
        self.refusals.append(reason)

    async def post_batch(
        self,
        private_key: str,
        chain_id: int,
        first: int,
        last: int,
        forced_end: int,
        data: bytes,
        attestations: bytes = b"",
        wait_seconds: float = 30.0,
    ) -> tuple[bytes, int]:
        self.calls.append(PostCall(private_key, chain_id, first, last, forced_end, data, attestations))
        if self.refusals:
            raise BatchRejected(self.refusals.pop(0))
        if self.l1 is None:
            return keccak(data), len(self.calls)
        posted = self.l1.add_batch(data, first, last, chain_id=chain_id)
        self.l1.mine()
        return posted.l1_tx_hash, posted.l1_block
