"""Derivation: rebuild an L2 chain from L1 alone (the Inbox's batches and forced queue).

L1 is read block by block. In each L1 block b:
  1. new forced-queue entries join the node's mirror of the queue;
  2. each BatchPosted of the chain, in log order:
     a. read the batch from the L1 transaction's calldata and decode it;
     b. check it extends the safe head (number, parent hash); every block's L1 origin exists, is
        before b and never goes backwards; its forced range starts where the parent's ended and
        reaches no further than what was queued by its origin;
     c. a block must include every entry whose deadline is at or before its origin: derivation
        extends the block's forced range to cover them if the batch did not;
     d. execute strictly (forced entries first, skipped deterministically when invalid; any
        invalid ordinary transaction rejects the batch) and make the blocks safe;
  3. if an entry whose deadline is before b - FORCE_GRACE_L1_BLOCKS is still not consumed by the
     safe chain, derivation makes an L2 block itself (origin b-1, the L1 timestamp, only forced
     entries), so forced transactions land with every sequencer offline. The grace gives a late
     sequencer a few L1 blocks to post a batch that consumes it (L1 refuses any batch that skips
     it meanwhile: ForcedTxOverdue) before derivation overrides its unsafe blocks.
A batch failing any check is skipped as a whole and logged with its L1 transaction hash.

L1 reorgs: before each step the L1 traversal (toolkit/l1_traversal.py) checks that the L1 blocks
derivation processed are still canonical. When they are not, `reset_to(fork point)` forgets what
came from orphaned L1 blocks: their forced entries, the safe blocks their batches made (the safe
head goes back, never below finalized), the unsafe blocks whose L1 origin is orphaned, and the
cached L1 blocks; derivation then reads L1 again from the fork point. Listeners (`on_l1_reorg`)
hear the fork point: who-leads views, the batcher (re-posts a batch whose L1 transaction vanished)
and the signing guard follow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from eth.abc import BlockHeaderAPI

from toolkit.batch import Batch, BatchDecodeError, decode_batch
from toolkit.forced_queue import ForcedEntry
from toolkit.l1.client import L1Block, L1Client, PostedBatch
from toolkit.l1_traversal import L1Traversal
from toolkit.l2.executor import BlockAttributes, BlockExecutionError, ExecutedBlock, L2Executor
from toolkit.node.chain_state import ChainState

log = logging.getLogger(__name__)

MAX_L1_RANGE = 500
FORCE_GRACE_L1_BLOCKS = 3
MAX_REFINE_BLOCKS = 256  # L2 blocks whose L1 origins are checked to narrow down an L1 fork point


class BatchInvalid(Exception):
    """Why a batch was skipped."""


@dataclass(frozen=True)
class SkippedBatch:
    l1_tx_hash: str
    l1_block: int
    reason: str


class Derivation:
    def __init__(self, chain_id: int, state: ChainState, l1: L1Client, start_l1_block: int = 0) -> None:
        self.chain_id = chain_id
        self.state = state
        self.executor: L2Executor = state.executor
        self.l1 = l1
        self.queue = state.forced_queue
        self.l1_cursor = start_l1_block - 1  # last L1 block fully processed
        self.latest_l1: L1Block | None = None  # that block, once known
        self.l1_head: L1Block | None = None  # the L1 head as of the last step
        self.batches_derived = 0
        self.blocks_forced = 0
        self.skipped: list[SkippedBatch] = []
        self.traversal = L1Traversal()
        self.start_l1_block = start_l1_block
        self.l1_reorgs = 0
        self.last_l1_reorg: dict[str, int] | None = None
        self.on_l1_reorg: list[Callable[[int], None]] = []  # called with the fork point
        self._origins_checked: tuple[int, bytes] | None = None  # highest unsafe block whose origin is checked
        self._stepping = asyncio.Lock()  # the node's L1 loop and a devnet revert both step

    async def step(self) -> bool:
        """Process new L1 blocks; returns True when there may be more to do right away."""
        async with self._stepping:
            return await self._step()

    async def _step(self) -> bool:
        head = self.l1_head = await self.l1.head()
        fork = await self.traversal.fork_point(self.l1, head)
        if fork is not None:
            await self.reset_to(max(await self._refine_fork_point(fork), self.start_l1_block - 1))
            return True
        await self.drop_orphaned_unsafe()
        if head.number <= self.l1_cursor:
            return False
        first, last = self.l1_cursor + 1, min(head.number, self.l1_cursor + MAX_L1_RANGE)
        batches: dict[int, list[PostedBatch]] = {}
        for posted in await self.l1.batches(self.chain_id, first, last):
            batches.setdefault(posted.l1_block, []).append(posted)
        queued: dict[int, list[ForcedEntry]] = {}
        for entry in await self.l1.forced_entries(self.chain_id, first, last):
            queued.setdefault(entry.l1_block, []).append(entry)
        for l1_block in range(first, last + 1):
            for entry in queued.get(l1_block, []):
                self.queue.add(entry)
            for posted in batches.get(l1_block, []):
                await self.apply(posted)
            await self._force_overdue(l1_block)
            self.l1_cursor = l1_block
        self.latest_l1 = head if last == head.number else await self.l1.block(last)
        self.traversal.record(self.latest_l1)
        self.state.update_finalized(await self.l1.finalized_number())
        return last < head.number

    async def _refine_fork_point(self, fork_point: int) -> int:
        """The traversal records one L1 block per step; the L2 blocks' L1 origins are records too. The
        newest origin L1 still has is also below the fork (a hash commits to its ancestors)."""
        checked: dict[int, bool] = {}
        for number in range(self.state.unsafe_number, max(0, self.state.unsafe_number - MAX_REFINE_BLOCKS), -1):
            attributes = BlockAttributes.from_header(self.executor.header_by_number(number))
            origin = attributes.l1_origin_number
            if origin <= fork_point:
                break
            if origin > self.l1_cursor:
                continue
            if origin not in checked:
                checked[origin] = await self.l1.canonical_hash(origin) == attributes.l1_origin_hash
            if checked[origin]:
                return origin
        return fork_point

    async def reset_to(self, fork_point: int) -> None:
        """L1 blocks above `fork_point` were orphaned: forget what derivation took from them."""
        previous_cursor, previous_safe = self.l1_cursor, self.state.safe_number
        self._origins_checked = None
        self.l1.forget_from(fork_point + 1)
        self.traversal.forget_above(fork_point)
        self.queue.truncate_from_l1_block(fork_point + 1)
        safe = self.state.rewind_safe_to_l1(fork_point)
        self._drop_unsafe_from(await self._first_with_orphaned_origin())
        self.l1_cursor = min(self.l1_cursor, fork_point)
        self.latest_l1 = await self.l1.block(fork_point) if fork_point >= 0 else None
        self.l1_reorgs += 1
        self.last_l1_reorg = {"forkPoint": fork_point, "previousL1": previous_cursor,
                              "previousSafeL2": previous_safe, "safeL2": safe}
        log.warning("L1 reorg: L1 blocks above %d were orphaned (derived up to %d); safe head %d -> %d, "
                    "deriving again from L1 block %d", fork_point, previous_cursor, previous_safe, safe,
                    fork_point + 1)
        for listener in self.on_l1_reorg:
            listener(fork_point)

    async def _first_with_orphaned_origin(self) -> int | None:
        """The first unsafe block whose L1 origin L1 no longer has (asked afresh: an origin hash is
        also a record of what L1 had, often above the fork point the traversal found)."""
        canonical: dict[int, bytes | None] = {}
        for number in range(self.state.safe_number + 1, self.state.unsafe_number + 1):
            attributes = BlockAttributes.from_header(self.executor.header_by_number(number))
            origin = attributes.l1_origin_number
            if origin not in canonical:
                canonical[origin] = await self.l1.canonical_hash(origin)
            if canonical[origin] != attributes.l1_origin_hash:
                return number
        return None

    async def drop_orphaned_unsafe(self) -> None:
        """Unsafe blocks whose L1 origin L1 no longer has (they arrived after the reset) are dropped.
        Blocks checked at an earlier step are not checked again until an L1 reorg or an L2 reorg."""
        first = self.state.safe_number + 1
        if self._origins_checked is not None:
            number, block_hash = self._origins_checked
            if self.executor.canonical_hash(number) == block_hash:
                first = max(first, number + 1)
        for number in range(first, self.state.unsafe_number + 1):
            header = self.executor.header_by_number(number)
            attributes = BlockAttributes.from_header(header)
            if await self.origin_orphaned(attributes):
                self._drop_unsafe_from(number)
                return
            if attributes.l1_origin_number <= self.l1_cursor:
                self._origins_checked = (number, bytes(header.hash))

    async def origin_orphaned(self, attributes: BlockAttributes, unread_counts: bool = False) -> bool:
        """Whether a block's L1 origin is off the L1 chain derivation follows. An origin past what
        derivation has read counts as orphaned only when `unread_counts` (a gossiped block's leader may
        be a little ahead of us; our own signed block is not, unless L1 went back)."""
        if attributes.l1_origin_number > self.l1_cursor:
            return unread_counts
        return (await self.l1.block(attributes.l1_origin_number)).hash != attributes.l1_origin_hash

    def _drop_unsafe_from(self, number: int | None) -> None:
        if number is None or number > self.state.unsafe_number:
            return
        log.warning("L1 reorg orphaned the L1 origin of L2 block %d: dropping unsafe blocks %d..%d",
                    number, number, self.state.unsafe_number)
        self.state.rewind_unsafe(number - 1)

    async def _force_overdue(self, l1_block: int) -> None:
        """Make the blocks that carry entries the safe chain left past their deadline (as many blocks
        as their gas needs, each within the block gas budget)."""
        required = self.queue.required_end(l1_block - 1 - FORCE_GRACE_L1_BLOCKS)
        while (start := self.state.safe_forced_end) < required:
            parent = self.executor.header_by_number(self.state.safe_number)
            parent_attributes = BlockAttributes.from_header(parent)
            origin = await self.l1.block(max(l1_block - 1, parent_attributes.l1_origin_number))
            required = max(required, self.queue.required_end(origin.number))
            attributes = BlockAttributes(
                timestamp=max(parent.timestamp + 1, origin.timestamp),
                l1_origin_number=origin.number,
                l1_origin_hash=origin.hash,
                forced_start=start,
                forced_end=self._fitting_end(start, required),
            )
            executed = self._reuse_or_execute(parent, parent.block_number + 1, attributes, [])
            self.state.adopt_safe([executed], l1_block)
            self.blocks_forced += 1
            log.warning(
                "forced entries %d..%d were not included by their deadline: derivation put them in L2 block %d "
                "(L1 block %d)", start, attributes.forced_end - 1, executed.number, l1_block,
            )

    async def apply(self, posted: PostedBatch) -> None:
        try:
            derived = await self._derive(posted)
        except (BatchInvalid, BatchDecodeError, BlockExecutionError) as exc:
            skipped = SkippedBatch("0x" + posted.l1_tx_hash.hex(), posted.l1_block, str(exc))
            self.skipped.append(skipped)
            log.warning(
                "skipped batch %d of chain %d in L1 tx %s (L1 block %d): %s",
                posted.batch_index, self.chain_id, skipped.l1_tx_hash, posted.l1_block, exc,
            )
            return
        self.state.adopt_safe(derived, posted.l1_block)
        self.batches_derived += 1
        log.info(
            "derived L2 blocks %d..%d from L1 block %d", derived[0].number, derived[-1].number, posted.l1_block
        )

    async def _derive(self, posted: PostedBatch) -> list[ExecutedBlock]:
        if posted.data is None:
            raise BatchInvalid(posted.problem or "no batch data")
        batch = decode_batch(posted.data)
        parent = self.executor.header_by_number(self.state.safe_number)
        self._check_links(batch, posted, parent)
        derived: list[ExecutedBlock] = []
        parent_attributes = BlockAttributes.from_header(parent)
        for offset, block in enumerate(batch.blocks):
            number = batch.first_block_number + offset
            if not parent_attributes.l1_origin_number <= block.l1_origin_number < posted.l1_block:
                raise BatchInvalid(
                    f"block {number}: L1 origin {block.l1_origin_number} outside "
                    f"[{parent_attributes.l1_origin_number}, {posted.l1_block})"
                )
            if block.forced_start != parent_attributes.forced_end or block.forced_end < block.forced_start:
                raise BatchInvalid(
                    f"block {number}: forced range {block.forced_start}..{block.forced_end} does not follow "
                    f"the parent's end {parent_attributes.forced_end}"
                )
            if block.forced_end > self.queue.includable_end(block.l1_origin_number):
                raise BatchInvalid(
                    f"block {number}: forced range reaches {block.forced_end}, only "
                    f"{self.queue.includable_end(block.l1_origin_number)} entries were queued by L1 block "
                    f"{block.l1_origin_number}"
                )
            origin = await self.l1.block(block.l1_origin_number)
            wanted_end = max(block.forced_end, self.queue.required_end(block.l1_origin_number))
            attributes = BlockAttributes(
                timestamp=block.timestamp,
                l1_origin_number=block.l1_origin_number,
                l1_origin_hash=origin.hash,
                forced_start=block.forced_start,
                forced_end=self._fitting_end(block.forced_start, wanted_end),
            )
            executed = self._reuse_or_execute(parent, number, attributes, list(block.transactions))
            derived.append(executed)
            parent = executed.block.header
            parent_attributes = attributes
        return derived

    def _fitting_end(self, start: int, end: int) -> int:
        """The block gas budget of a forced range (toolkit/forced_queue.py): the rest waits for the next block."""
        return self.queue.fitting_end(start, end, self.executor.config.gas_limit, self.chain_id)

    def _check_links(self, batch: Batch, posted: PostedBatch, safe: BlockHeaderAPI) -> None:
        if batch.chain_id != self.chain_id:
            raise BatchInvalid(f"batch is for chain {batch.chain_id}")
        if (batch.first_block_number, batch.last_block_number) != (posted.first_l2_block, posted.last_l2_block):
            raise BatchInvalid("block range in the data differs from the range declared on L1")
        if batch.first_block_number != safe.block_number + 1:
            raise BatchInvalid(
                f"batch starts at L2 block {batch.first_block_number}, the safe head is {safe.block_number}"
            )
        if batch.parent_hash != bytes(safe.hash):
            raise BatchInvalid("batch parent hash is not the safe head")

    def _reuse_or_execute(
        self, parent: BlockHeaderAPI, number: int, attributes: BlockAttributes, transactions: list[bytes]
    ) -> ExecutedBlock:
        """The block the batch describes; if the unsafe chain already holds exactly it, reuse it."""
        forced = self.queue.raws(attributes.forced_start, attributes.forced_end)
        known_hash = self.executor.canonical_hash(number)
        if known_hash is not None:
            known = self.executor.block_by_hash(known_hash)
            if (
                bytes(known.header.parent_hash) == bytes(parent.hash)
                and BlockAttributes.from_header(known.header) == attributes
                and self.executor.raw_transactions(known_hash) == tuple(transactions)
            ):
                return ExecutedBlock(known, self.executor.receipts(known_hash), attributes, tuple(transactions))
        return self.executor.execute_block(
            parent, attributes, transactions, strict=True, forced_transactions=forced
        )
