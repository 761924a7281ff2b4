"""Forced entries have a per-block gas budget: what does not fit moves to the next L2 block, in queue
order, by the same rule for the builder and derivation; no valid forced transaction is ever skipped
for want of block gas. Real executor and builder over an in-memory L1 (toolkit.testing.InMemoryL1)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from toolkit.derivation import FORCE_GRACE_L1_BLOCKS, Derivation
from toolkit.l2.executor import BlockAttributes
from toolkit.l2.txpool import TxPool
from toolkit.node.chain_state import ChainState
from toolkit.sequencer.block_builder import BlockBuilder
from toolkit.signing import SigningDomain
from toolkit.testing import ACCOUNTS, CHAIN_ID, InMemoryL1, batch_data, new_state, transfer

BIG = 12_000_000  # two fit in a 30M block, three do not


def catch_up(derivation: Derivation) -> None:
    async def run() -> None:
        while await derivation.step():
            pass

    asyncio.run(run())


def forced_ranges(state: ChainState, numbers: Iterable[int]) -> list[tuple[int, int]]:
    ranges = []
    for number in numbers:
        attributes = BlockAttributes.from_header(state.executor.header_by_number(number))
        ranges.append((attributes.forced_start, attributes.forced_end))
    return ranges


def test_fitting_end_keeps_queue_order_within_the_block_gas() -> None:
    l1 = InMemoryL1(inclusion_window=4)
    for raw in (transfer(1, 0, gas=BIG), b"\x02garbage", transfer(1, 1, gas=BIG), transfer(1, 2, gas=BIG),
                transfer(1, 3, gas=40_000_000)):
        l1.queue_forced(raw)
    l1.mine()
    state = new_state()
    catch_up(Derivation(CHAIN_ID, state, l1))
    queue, limit = state.forced_queue, state.executor.config.gas_limit
    assert queue.fitting_end(0, 5, limit, CHAIN_ID) == 3  # garbage reserves nothing; the third big one waits
    assert queue.fitting_end(3, 5, limit, CHAIN_ID) == 5  # over the block limit: invalid, reserves nothing
    assert queue.fitting_end(2, 2, limit, CHAIN_ID) == 2


def test_derivation_spreads_overdue_entries_over_blocks_and_loses_none() -> None:
    l1 = InMemoryL1(inclusion_window=4)
    entries = [l1.queue_forced(transfer(1, n, gas=BIG, value=100 + n)) for n in range(3)]
    l1.mine()
    verifier = new_state()
    derivation = Derivation(CHAIN_ID, verifier, l1)
    l1.mine_to(entries[-1].deadline + FORCE_GRACE_L1_BLOCKS + 1)
    catch_up(derivation)
    assert derivation.blocks_forced == 2 and verifier.safe_number == 2
    assert forced_ranges(verifier, (1, 2)) == [(0, 2), (2, 3)]
    described = verifier.forced_queue.describe(l1.head_number, verifier.safe_number)
    assert [d["status"] for d in described] == ["included"] * 3


def test_builder_and_derivation_apply_the_same_budget() -> None:
    l1 = InMemoryL1(inclusion_window=10)
    for n in range(5):
        l1.queue_forced(transfer(1, n, gas=BIG))
    origin = l1.mine()
    leader = new_state()
    catch_up(Derivation(CHAIN_ID, leader, l1))
    builder = BlockBuilder(CHAIN_ID, leader, TxPool(leader.executor), ACCOUNTS[2].private_key,
                           SigningDomain(31337, "0x" + "11" * 20))
    for _ in range(3):
        executed = builder.prepare(origin)
        assert all(outcome is None for outcome in executed.forced_outcomes)
        builder.commit(executed)
    assert forced_ranges(leader, (1, 2, 3)) == [(0, 2), (2, 4), (4, 5)]

    l1.add_batch(batch_data(leader, 1, 3), 1, 3)
    l1.mine()
    verifier = new_state()
    derivation = Derivation(CHAIN_ID, verifier, l1)
    catch_up(derivation)
    assert derivation.skipped == [] and verifier.safe_number == 3
    assert [verifier.executor.canonical_hash(n) for n in (1, 2, 3)] == [
        leader.executor.canonical_hash(n) for n in (1, 2, 3)
    ]
