"""The leader's block production: mempool -> L2 block, signed and handed to gossip.

Timestamps are wall-clock seconds, at least one past the parent. The L1 origin is the newest L1
block the node has seen, never older than the parent's origin.
"""

from __future__ import annotations

import logging
import time

from eth_utils import keccak

from toolkit.l1.client import L1Block
from toolkit.l2.executor import BlockAttributes, ExecutedBlock
from toolkit.l2.signed_block import SignedBlock
from toolkit.l2.txpool import TxPool
from toolkit.node.chain_state import ChainState

log = logging.getLogger(__name__)

# Skip reasons after which a transaction stays in the pool (it may become valid later).
RETRYABLE_MARKERS = ("base fee", "block gas limit reached")


class BlockBuilder:
    def __init__(self, chain_id: int, state: ChainState, pool: TxPool, private_key: str) -> None:
        self.chain_id = chain_id
        self.state = state
        self.pool = pool
        self.private_key = private_key
        self.blocks_built = 0
        self.dropped: dict[bytes, str] = {}  # tx hash -> why it left the pool without a block

    def build(self, l1_head: L1Block) -> SignedBlock:
        executor = self.state.executor
        parent = executor.head
        parent_attributes = BlockAttributes.from_header(parent)
        if l1_head.number >= parent_attributes.l1_origin_number:
            origin_number, origin_hash = l1_head.number, l1_head.hash
        else:  # our L1 view is behind the parent's origin (an L1 reorg): keep the parent's
            origin_number, origin_hash = parent_attributes.l1_origin_number, parent_attributes.l1_origin_hash
        attributes = BlockAttributes(
            timestamp=max(int(time.time()), parent.timestamp + 1),
            l1_origin_number=origin_number,
            l1_origin_hash=origin_hash,
            forced_start=parent_attributes.forced_end,
            forced_end=parent_attributes.forced_end,
        )
        executed = executor.execute_block(parent, attributes, self.pool.executable(), strict=False)
        self.state.extend_unsafe(executed)
        self._settle_pool(executed)
        self.blocks_built += 1
        return SignedBlock.create(self.chain_id, executed, self.private_key)

    def _settle_pool(self, executed: ExecutedBlock) -> None:
        for skipped in executed.skipped:
            if any(marker in skipped.reason for marker in RETRYABLE_MARKERS):
                continue
            tx_hash = keccak(skipped.raw)
            self.dropped[tx_hash] = skipped.reason
            self.pool.drop(tx_hash)
            log.warning("dropped transaction 0x%s from the pool: %s", tx_hash.hex(), skipped.reason)
        for tx in executed.block.transactions:
            self.pool.drop(tx.hash)
        self.pool.remove_stale()
