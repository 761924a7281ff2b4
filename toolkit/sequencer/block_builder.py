"""The leader's block production: mempool -> L2 block (`prepare`), adopted once signed (`commit`).

The node signs between the two, through the signing guard, after re-checking on L1 that it leads.

Timestamps are wall-clock seconds, at least one past the parent. The L1 origin is the newest L1
block derivation has processed (so the forced queue is known up to it), never older than the
parent's origin.

Forced entries: an honest builder includes every entry queued by the origin at once. Entries
whose L2 sender is censored are held back until their deadline is near (CENSOR_MARGIN L1 blocks),
which is as late as derivation allows. `ignore_forced` is a test hook for a misbehaving
sequencer that includes none; L1 then refuses its batches (ForcedTxOverdue) and the node turns it
off again.
"""

from __future__ import annotations

import logging
import time

from eth.abc import BlockHeaderAPI
from eth_utils import keccak, to_checksum_address

from toolkit.forced_queue import ForcedQueue
from toolkit.l1.client import L1Block
from toolkit.l2.executor import BlockAttributes, ExecutedBlock
from toolkit.l2.signed_block import SignedBlock
from toolkit.l2.transactions import InvalidTransaction, decode_raw_transaction
from toolkit.l2.txpool import TxPool
from toolkit.node.chain_state import ChainState
from toolkit.signing import SigningDomain

log = logging.getLogger(__name__)

# Skip reasons after which a transaction stays in the pool (it may become valid later).
RETRYABLE_MARKERS = ("base fee", "block gas limit reached")
CENSOR_MARGIN = 2  # L1 blocks before its deadline at which a censored forced entry is let in


class BlockBuilder:
    def __init__(
        self, chain_id: int, state: ChainState, pool: TxPool, private_key: str, domain: SigningDomain
    ) -> None:
        self.chain_id = chain_id
        self.domain = domain
        self.state = state
        self.pool = pool
        self.private_key = private_key
        self.blocks_built = 0
        self.dropped: dict[bytes, str] = {}  # tx hash -> why it left the pool without a block
        self.ignore_forced = False  # test hook: a sequencer that includes no forced entry

    @property
    def queue(self) -> ForcedQueue:
        return self.state.forced_queue

    def forced_end(self, start: int, origin: int) -> int:
        """Where this block's forced range ends, given the parent's end and the block's L1 origin."""
        if self.ignore_forced:
            return start
        end = max(start, self.queue.required_end(origin))
        includable = self.queue.includable_end(origin)
        while end < includable:
            entry = self.queue.entries[end]
            if self._is_censored(entry.raw) and entry.deadline > origin + CENSOR_MARGIN:
                break
            end += 1
        return self.queue.fitting_end(start, end, self.state.executor.config.gas_limit, self.chain_id)

    def _is_censored(self, raw: bytes) -> bool:
        if not self.pool.censored:
            return False
        try:
            sender = decode_raw_transaction(raw, self.chain_id).sender
        except InvalidTransaction:
            return False
        return to_checksum_address(sender) in self.pool.censored

    def prepare(self, l1_head: L1Block, leading: list[bytes] | None = None) -> ExecutedBlock:
        """Execute the next block on the head (no side effects: `commit` adopts it once it is signed).
        `leading`: transactions that go first, before the mempool's (a bundle's legs on this chain)."""
        executor = self.state.executor
        parent = executor.head
        parent_attributes = BlockAttributes.from_header(parent)
        if l1_head.number >= parent_attributes.l1_origin_number:
            origin_number, origin_hash = l1_head.number, l1_head.hash
        else:  # our L1 view is behind the parent's origin (an L1 reorg): keep the parent's
            origin_number, origin_hash = parent_attributes.l1_origin_number, parent_attributes.l1_origin_hash
        start = parent_attributes.forced_end
        attributes = BlockAttributes(
            timestamp=max(int(time.time()), parent.timestamp),  # blocks within one second share it
            l1_origin_number=origin_number,
            l1_origin_hash=origin_hash,
            forced_start=start,
            forced_end=self.forced_end(start, origin_number),
        )
        first = list(leading or [])
        hashes = {keccak(raw) for raw in first}
        ordinary = first + [raw for raw in self.pool.executable() if keccak(raw) not in hashes]
        return executor.execute_block(
            parent, attributes, ordinary, strict=False,
            forced_transactions=self.queue.raws(attributes.forced_start, attributes.forced_end),
        )

    def commit(self, executed: ExecutedBlock) -> None:
        """Adopt a prepared (and signed) block as the new unsafe head; settle the pool."""
        self.state.extend_unsafe(executed)
        self._settle_pool(executed)
        self.blocks_built += 1

    def conflicting_block(self, head: BlockHeaderAPI) -> SignedBlock:
        """A different block at `head`'s height, signed but never adopted (test hook: equivocation)."""
        executor = self.state.executor
        parent = executor.header_by_hash(head.parent_hash)
        assert parent is not None
        attributes = BlockAttributes.from_header(head)
        twin = BlockAttributes(
            attributes.timestamp + 1, attributes.l1_origin_number, attributes.l1_origin_hash,
            attributes.forced_start, attributes.forced_end,
        )
        executed = executor.execute_block(
            parent, twin, [], strict=True,
            forced_transactions=self.queue.raws(twin.forced_start, twin.forced_end),
        )
        return SignedBlock.create(self.domain, self.chain_id, executed, self.private_key)

    def _settle_pool(self, executed: ExecutedBlock) -> None:
        forced = {bytes(keccak(raw)) for raw in self.queue.raws(executed.attributes.forced_start,
                                                                 executed.attributes.forced_end)}
        for skipped in executed.skipped:
            if keccak(skipped.raw) in forced:
                continue  # a skipped forced entry is not a mempool transaction
            if any(marker in skipped.reason for marker in RETRYABLE_MARKERS):
                continue
            tx_hash = keccak(skipped.raw)
            self.dropped[tx_hash] = skipped.reason
            self.pool.drop(tx_hash)
            log.warning("dropped transaction 0x%s from the pool: %s", tx_hash.hex(), skipped.reason)
        for tx in executed.block.transactions:
            self.pool.drop(tx.hash)
        self.pool.remove_stale()
