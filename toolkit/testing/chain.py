"""An L2 chain built in process, as a leader would build it, and its blocks as batch data.

    state = new_state()
    block = build_block(state, origin=l1_block, transactions=[transfer(0, 0)])
    data = batch_data(state, 1, state.unsafe_number)

Blocks are executed by the real L2Executor and appended through the real ChainState, with
explicit attributes (no wall clock), so equal calls give equal block hashes.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.batch import COMPRESSION_ZLIB, Batch, encode_batch
from toolkit.l1.client import L1Block
from toolkit.l2.chain_config import L2ChainConfig
from toolkit.l2.executor import BlockAttributes, ExecutedBlock, L2Executor
from toolkit.node.chain_state import ChainState
from toolkit.rpc.events import ChainEvents
from toolkit.sequencer.batcher import canonical_batch
from toolkit.testing.l2 import CHAIN_ID, chain_config


def new_state(config: L2ChainConfig | None = None) -> ChainState:
    """A node's chain state at genesis (chain_config() unless told otherwise)."""
    return ChainState(L2Executor(config or chain_config()), ChainEvents())


def next_attributes(
    state: ChainState, origin: L1Block, *, forced_end: int | None = None, timestamp: int | None = None
) -> BlockAttributes:
    """Attributes of the block after the head: its forced range starts where the parent's ended and
    ends at `forced_end` (default: includes nothing new); timestamp parent + 1 unless given."""
    parent = state.executor.head
    start = BlockAttributes.from_header(parent).forced_end
    return BlockAttributes(
        timestamp=parent.timestamp + 1 if timestamp is None else timestamp,
        l1_origin_number=origin.number,
        l1_origin_hash=origin.hash,
        forced_start=start,
        forced_end=start if forced_end is None else forced_end,
    )


def build_block(
    state: ChainState,
    origin: L1Block,
    transactions: Sequence[bytes] = (),
    *,
    forced_end: int | None = None,
    timestamp: int | None = None,
    strict: bool = True,
) -> ExecutedBlock:
    """Execute the next block on the head (forced entries from the state's queue first) and make it
    the unsafe head. `strict=False` skips invalid transactions, as the sequencer does."""
    attributes = next_attributes(state, origin, forced_end=forced_end, timestamp=timestamp)
    executed = state.executor.execute_block(
        state.executor.head,
        attributes,
        list(transactions),
        strict=strict,
        forced_transactions=state.forced_queue.raws(attributes.forced_start, attributes.forced_end),
    )
    state.extend_unsafe(executed)
    return executed


def batch_of(state: ChainState, first: int, last: int, chain_id: int = CHAIN_ID) -> Batch:
    """The canonical blocks first..last as a batch describes them (forced entries are not carried)."""
    return canonical_batch(state.executor, chain_id, first, last)


def batch_data(
    state: ChainState, first: int, last: int, chain_id: int = CHAIN_ID, compression: int = COMPRESSION_ZLIB
) -> bytes:
    """`batch_of(...)` encoded as the Inbox carries it."""
    return encode_batch(batch_of(state, first, last, chain_id), compression)
