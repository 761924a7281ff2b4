"""Derivation across L1 reorgs, driven by an in-memory L1 (InMemoryL1.reorg orphans its newest blocks).

Real batches over blocks the real L2Executor built; no processes. The end-to-end proofs against
Anvil are in tests/test_e2e_l1_reorg.py.
"""

from __future__ import annotations

import asyncio

from toolkit.derivation import Derivation
from toolkit.l1.client import L1Block
from toolkit.l1_traversal import L1Traversal
from toolkit.rpc.events import BlockEvent
from toolkit.testing import CHAIN_ID, InMemoryL1, batch_data, build_block, new_state, transfer


def catch_up(derivation: Derivation) -> None:
    async def run() -> None:
        while await derivation.step():
            pass

    asyncio.run(run())


def hashes(derivation: Derivation) -> list[bytes | None]:
    executor = derivation.executor
    return [executor.canonical_hash(n) for n in range(executor.head_number + 1)]


def leader_and_batch(l1: InMemoryL1, blocks: int = 3):  # type: ignore[no-untyped-def]
    """A leader's `blocks` blocks on L1 block 1, their batch posted in the next L1 block."""
    origin = l1.mine()
    leader = new_state()
    for n in range(blocks):
        build_block(leader, origin, [transfer(0, n)])
    posted = l1.add_batch(batch_data(leader, 1, blocks), 1, blocks)
    l1.mine()
    return leader, posted


def test_traversal_finds_the_highest_recorded_block_l1_still_has() -> None:
    l1 = InMemoryL1()
    l1.mine(6)
    traversal = L1Traversal()
    for number in (1, 3, 5, 6):
        traversal.record(l1.blocks[number])
    assert asyncio.run(traversal.fork_point(l1)) is None
    assert asyncio.run(traversal.fork_point(l1, l1.mine())) is None  # the head's parent hash is enough
    l1.blocks.pop()
    l1.reorg(2)  # blocks 5 and 6 replaced
    assert l1.blocks[5].hash != traversal.recorded(5)
    assert asyncio.run(traversal.fork_point(l1, l1.blocks[6])) == 3  # 4 is not recorded: a safe lower bound
    assert asyncio.run(traversal.fork_point(l1, l1.mine())) == 3  # a child of the new branch: parent differs
    traversal.record(L1Block(0, b"\x01" * 32, 0))
    l1.reorg(7)  # everything but genesis, and genesis recorded with another hash
    assert asyncio.run(traversal.fork_point(l1)) == -1


def test_dropped_batch_moves_the_safe_head_back_and_the_reposted_batch_derives_the_same_blocks() -> None:
    l1 = InMemoryL1()
    leader, posted = leader_and_batch(l1)
    derivation = Derivation(CHAIN_ID, new_state(), l1)
    catch_up(derivation)
    before = hashes(derivation)
    assert derivation.state.safe_number == 3
    seen: list[int] = []
    derivation.on_l1_reorg.append(seen.append)
    fork_point = l1.reorg(1)  # the batch's L1 block is orphaned, the blocks' origin (1) stays
    catch_up(derivation)
    # one step read L1 blocks 0..2 and recorded only block 2: the fork point found is a lower bound
    assert len(seen) == 1 and seen[0] <= fork_point and derivation.l1_reorgs == 1
    assert derivation.state.safe_number == 0 and derivation.state.unsafe_number == 3  # unsafe, not gone
    assert hashes(derivation) == before
    l1.add_batch(posted.data, 1, 3)  # the batcher posts it again
    l1.mine()
    catch_up(derivation)
    assert derivation.state.safe_number == 3 and hashes(derivation) == before
    assert derivation.state.reorg_count == 0  # no L2 block was replaced


def test_batch_moved_to_another_l1_block_derives_the_same_chain() -> None:
    l1 = InMemoryL1()
    _leader, posted = leader_and_batch(l1)
    l1.mine(2)
    derivation = Derivation(CHAIN_ID, new_state(), l1)
    catch_up(derivation)
    before = hashes(derivation)
    l1.reorg(3, keep=(posted,))  # depth 3: the batch lands in the first block of the new branch
    catch_up(derivation)
    assert derivation.l1_reorgs == 1 and derivation.state.safe_number == 3
    assert derivation.state.l1_block_of_safe[3] == l1.head_number - 2
    assert hashes(derivation) == before


def test_blocks_whose_origin_was_orphaned_are_dropped_with_removed_events_and_rebuilt_on_the_new_l1() -> None:
    l1 = InMemoryL1()
    l1.mine(3)
    state = new_state()
    derivation = Derivation(CHAIN_ID, state, l1)
    catch_up(derivation)
    build_block(state, l1.blocks[1], [transfer(0, 0)])
    build_block(state, l1.blocks[3], [transfer(0, 1)])  # origin 3 will be orphaned
    events: list[BlockEvent] = []
    state.events.listen(lambda event: events.append(event) if isinstance(event, BlockEvent) else None)
    l1.reorg(10 - 8)  # orphans 2 and 3
    catch_up(derivation)
    assert state.unsafe_number == 1 and state.reorg_count == 1
    assert [(e.block.number, e.removed) for e in events] == [(2, True)]
    # the leader builds height 2 again on the new L1 block 3; derivation keeps it
    rebuilt = build_block(state, l1.blocks[3], [transfer(0, 1)])
    catch_up(derivation)
    assert state.unsafe_number == 2 and state.executor.canonical_hash(2) == rebuilt.hash


def test_forced_entry_of_an_orphaned_block_is_forgotten_and_its_block_dropped() -> None:
    l1 = InMemoryL1(inclusion_window=4)
    entry = l1.queue_forced(transfer(1, 0, value=5))
    l1.mine(2)
    state = new_state()
    derivation = Derivation(CHAIN_ID, state, l1)
    catch_up(derivation)
    build_block(state, l1.blocks[entry.l1_block], forced_end=1)
    assert [d["status"] for d in derivation.state.forced_queue.describe(l1.head_number, 0)] == ["included"]
    l1.reorg(2)
    catch_up(derivation)
    assert state.forced_queue.entries == [] and state.forced_queue.describe(l1.head_number, 0) == []
    assert state.unsafe_number == 0
    l1.mine(10)  # the entry is gone for good: nothing is forced in later
    catch_up(derivation)
    assert derivation.blocks_forced == 0 and state.safe_number == 0


def test_finalized_never_moves_back() -> None:
    l1 = InMemoryL1()
    _leader, _posted = leader_and_batch(l1)
    l1.mine()
    derivation = Derivation(CHAIN_ID, new_state(), l1)
    catch_up(derivation)
    l1.finalized = l1.head_number
    l1.mine()
    catch_up(derivation)
    assert derivation.state.finalized_number == 3
    l1.reorg(3)  # deeper than finality: a broken L1, but the L2 finalized head stays
    catch_up(derivation)
    assert derivation.state.finalized_number == 3 and derivation.state.safe_number == 3


def test_two_nodes_that_saw_different_l1_branches_agree_after_the_reorg() -> None:
    l1 = InMemoryL1()
    leader, posted = leader_and_batch(l1)
    early = Derivation(CHAIN_ID, new_state(), l1)
    catch_up(early)  # saw the first branch
    l1.reorg(1, keep=(posted,))
    late = Derivation(CHAIN_ID, new_state(), l1)
    catch_up(late)  # only ever saw the second branch
    catch_up(early)
    assert hashes(early) == hashes(late) == [leader.executor.canonical_hash(n) for n in range(4)]
    assert early.state.safe_number == late.state.safe_number == 3
