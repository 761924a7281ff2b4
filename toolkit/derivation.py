"""Derivation: rebuild an L2 chain from L1 alone (the Inbox's batches).

For each BatchPosted event of the chain, in L1 order:
  1. read the batch data from the L1 transaction's calldata and decode it (version, compression, RLP);
  2. check it extends the safe head (first block number, parent hash) and that every block's
     L1 origin exists on L1, is not after the batch's own L1 block, and never goes backwards;
  3. execute its blocks strictly; any invalid transaction rejects the batch;
  4. the blocks become safe (replacing unsafe blocks that disagree).
A batch failing any step is skipped as a whole and logged with its L1 transaction hash; the
node goes on with the next one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth.abc import BlockHeaderAPI

from toolkit.batch import Batch, BatchDecodeError, decode_batch
from toolkit.l1.client import L1Client, PostedBatch
from toolkit.l2.executor import BlockAttributes, BlockExecutionError, ExecutedBlock, L2Executor
from toolkit.node.chain_state import ChainState

log = logging.getLogger(__name__)

MAX_L1_RANGE = 500


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
        self.l1_cursor = start_l1_block - 1  # last L1 block fully processed
        self.batches_derived = 0
        self.skipped: list[SkippedBatch] = []

    async def step(self) -> bool:
        """Process new L1 blocks; returns True when there may be more to do right away."""
        head = await self.l1.head()
        if head.number <= self.l1_cursor:
            return False
        last = min(head.number, self.l1_cursor + MAX_L1_RANGE)
        for posted in await self.l1.batches(self.chain_id, self.l1_cursor + 1, last):
            await self.apply(posted)
        self.l1_cursor = last
        self.state.update_finalized(await self.l1.finalized_number())
        return last < head.number

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
            if block.forced_start != parent_attributes.forced_end or block.forced_end != block.forced_start:
                raise BatchInvalid(f"block {number}: forced range {block.forced_start}..{block.forced_end} is not allowed")
            origin = await self.l1.block(block.l1_origin_number)
            attributes = BlockAttributes(
                timestamp=block.timestamp,
                l1_origin_number=block.l1_origin_number,
                l1_origin_hash=origin.hash,
                forced_start=block.forced_start,
                forced_end=block.forced_end,
            )
            executed = self._reuse_or_execute(parent, number, attributes, list(block.transactions))
            derived.append(executed)
            parent = executed.block.header
            parent_attributes = attributes
        return derived

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
        known_hash = self.executor.canonical_hash(number)
        if known_hash is not None:
            known = self.executor.block_by_hash(known_hash)
            if (
                bytes(known.header.parent_hash) == bytes(parent.hash)
                and BlockAttributes.from_header(known.header) == attributes
                and self.executor.raw_transactions(known_hash) == tuple(transactions)
            ):
                return ExecutedBlock(known, self.executor.receipts(known_hash), attributes, tuple(transactions))
        return self.executor.execute_block(parent, attributes, transactions, strict=True)
