"""The leader's batch poster: unsafe L2 blocks -> compressed batch -> Inbox.postBatch on L1.

A batch is posted when `max_blocks` blocks wait, or when the oldest waiting block is older than
`max_seconds`; it carries every block waiting then (up to MAX_BATCH_BYTES), so the safe head keeps
up with any block rate (at 100 ms blocks, ten or more blocks wait for each L1 block). A batch L1 refuses is logged with the reason and posting restarts from the safe head.
When L1 refuses it because a forced entry is overdue (ForcedTxOverdue), `on_forced_overdue` is
called so the node rebuilds its unsafe blocks with the entry in, rather than retrying forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from toolkit.batch import (
    COMPRESSION_BROTLI,
    COMPRESSION_NONE,
    COMPRESSION_ZLIB,
    Batch,
    BatchBlock,
    encode_batch,
)
from toolkit.l1.client import BatchRejected, L1Client
from toolkit.l2.executor import BlockAttributes, L2Executor
from toolkit.node.chain_state import ChainState

log = logging.getLogger(__name__)

COMPRESSIONS = {"zlib": COMPRESSION_ZLIB, "brotli": COMPRESSION_BROTLI, "none": COMPRESSION_NONE}
MAX_BATCH_BYTES = 120_000  # stays under Anvil's and geth's 128 KiB transaction size limit


def canonical_batch(executor: L2Executor, chain_id: int, first: int, last: int) -> Batch:
    """Canonical blocks first..last as a batch carries them (forced entries are named, not carried)."""
    blocks = []
    for number in range(first, last + 1):
        header = executor.header_by_number(number)
        attributes = BlockAttributes.from_header(header)
        blocks.append(
            BatchBlock(
                l1_origin_number=attributes.l1_origin_number,
                timestamp=attributes.timestamp,
                forced_start=attributes.forced_start,
                forced_end=attributes.forced_end,
                transactions=executor.raw_transactions(header.hash),
            )
        )
    return Batch(chain_id, first, bytes(executor.header_by_number(first - 1).hash), tuple(blocks))


@dataclass(frozen=True)
class PendingBatch:
    """One chain's batch ready to post (alone, or as a segment of a shared batch)."""

    chain_id: int
    first: int
    last: int
    forced_end: int
    data: bytes

    def request(self) -> dict[str, Any]:
        """What validators are asked to attest (POST /p2p/attest, or one segment of /p2p/attest-shared)."""
        return {"chainId": self.chain_id, "first": self.first, "last": self.last, "forcedEnd": self.forced_end,
                "data": "0x" + self.data.hex()}


class Batcher:
    def __init__(
        self,
        chain_id: int,
        state: ChainState,
        l1: L1Client,
        private_key: str,
        max_blocks: int,
        max_seconds: float,
        compression: str = "zlib",
    ) -> None:
        self.chain_id = chain_id
        self.state = state
        self.l1 = l1
        self.private_key = private_key
        self.max_blocks = max_blocks
        self.max_seconds = max_seconds
        self.compression = COMPRESSIONS[compression]
        self.last_posted = state.safe_number
        self.batches_posted = 0
        self.last_error: str | None = None
        self.overdue_rejections = 0
        self.on_forced_overdue: Callable[[], None] | None = None
        self.attest: Callable[[dict[str, Any]], Awaitable[bytes]] | None = None  # modes with attestations
        self._waiting_since: float | None = None
        self._posted: list[tuple[int, int]] = []  # (L1 block, last L2 block) of batches L1 took
        self._l1_reorgs = 0  # L1 reorgs heard of; a post that spans one may have vanished
        self._reorgs_at_build = 0  # _l1_reorgs when the batch being posted was built
        self.derived_l1: Callable[[], int] = lambda: -1  # the last L1 block derivation has read
        state.on_reorg(self._on_reorg)

    def after_l1_reorg(self, fork_point: int) -> None:
        """Batches we posted in orphaned L1 blocks vanished: post their blocks again (if L1 carries the
        same batch over to another block, derivation skips the second copy)."""
        self._l1_reorgs += 1
        self._posted = [(l1_block, last) for l1_block, last in self._posted if l1_block <= fork_point]
        kept = max((last for _, last in self._posted), default=self.state.safe_number)
        if self.last_posted > kept:
            log.warning("L1 reorg orphaned our batches of L2 blocks %d..%d: posting them again", kept + 1,
                        self.last_posted)
        self.last_posted = min(self.last_posted, max(kept, self.state.safe_number))

    def _on_reorg(self, first_dropped: int) -> None:
        self.last_posted = min(self.last_posted, first_dropped - 1)

    def due(self) -> bool:
        waiting = self.state.unsafe_number - self.last_posted
        if waiting <= 0:
            self._waiting_since = None
            return False
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()
        return waiting >= self.max_blocks or time.monotonic() - self._waiting_since >= self.max_seconds

    def build_batch(self, first: int, last: int) -> bytes:
        return encode_batch(canonical_batch(self.state.executor, self.chain_id, first, last), self.compression)

    def _forget_vanished(self) -> None:
        """Derivation read past the L1 block a batch of ours landed in, yet the safe head did not take
        its blocks: an L1 reorg took it away (before this node noticed one) or it was skipped. Post
        again from the safe head rather than wait for blocks that will never become safe."""
        safe = self.state.safe_number
        self._posted = [(l1_block, last) for l1_block, last in self._posted if last > safe]
        derived = self.derived_l1()
        vanished = [(l1_block, last) for l1_block, last in self._posted if l1_block <= derived]
        if vanished:
            log.warning("our batch of L2 blocks up to %d (L1 block %d) is not on L1 any more: posting the "
                        "blocks after the safe head %d again", vanished[0][1], vanished[0][0], safe)
            self._posted = []
            self.last_posted = min(self.last_posted, safe)

    def next_batch(self, force: bool = False) -> PendingBatch | None:
        """The batch due now (every block after the last posted, at most MAX_BATCH_BYTES), if any;
        with `force`, whatever waits even if it is not due yet."""
        self._forget_vanished()
        self._reorgs_at_build = self._l1_reorgs
        if self.last_posted < self.state.safe_number:
            self.last_posted = self.state.safe_number
        if not self.due() and not (force and self.state.unsafe_number > self.last_posted):
            return None
        first = self.last_posted + 1
        last = self.state.unsafe_number
        data = self.build_batch(first, last)
        while len(data) > MAX_BATCH_BYTES and last > first:
            last = first + (last - first) // 2
            data = self.build_batch(first, last)
        forced_end = BlockAttributes.from_header(self.state.executor.header_by_number(last)).forced_end
        return PendingBatch(self.chain_id, first, last, forced_end, data)

    def mark_posted(self, batch: PendingBatch, l1_block: int, tx_hash: bytes) -> None:
        self.last_error = None
        self.batches_posted += 1
        log.info(
            "posted batch of L2 blocks %d..%d (%d bytes) in L1 block %d, tx 0x%s",
            batch.first, batch.last, len(batch.data), l1_block, tx_hash.hex(),
        )
        if self._l1_reorgs != self._reorgs_at_build:
            log.warning("an L1 reorg happened while batch %d..%d was posted: checking it again", batch.first,
                        batch.last)
            return  # its L1 block may be orphaned; post again from the safe head
        self._posted.append((l1_block, batch.last))
        del self._posted[:-256]
        self.last_posted = batch.last
        self._waiting_since = None

    def mark_rejected(self, batch: PendingBatch, error: str, forced_overdue: bool) -> None:
        self.last_error = error
        log.error("L1 rejected batch of L2 blocks %d..%d: %s", batch.first, batch.last, error)
        self.last_posted = self.state.safe_number
        if forced_overdue:
            self.overdue_rejections += 1
            if self.on_forced_overdue is not None:
                self.on_forced_overdue()

    async def post_due(self) -> bool:
        """Post one batch if one is due; returns True if a batch landed on L1."""
        batch = self.next_batch()
        if batch is None:
            return False
        attestations = b""
        if self.attest is not None:
            attestations = await self.attest(batch.request())
        try:
            tx_hash, l1_block = await self.l1.post_batch(
                self.private_key, self.chain_id, batch.first, batch.last, batch.forced_end, batch.data, attestations
            )
        except BatchRejected as exc:
            self.mark_rejected(batch, str(exc), "ForcedTxOverdue" in str(exc))
            return False
        self.mark_posted(batch, l1_block, tx_hash)
        return True
