"""Derivation driven by an in-memory L1: real batches over blocks really executed, no processes.

The L1 is toolkit.testing.InMemoryL1; the leader's blocks are built with the real L2Executor
(toolkit.testing.build_block) and encoded with toolkit.batch.encode_batch.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
from dataclasses import replace
from pathlib import Path

import pytest

from toolkit import derivation as derivation_module
from toolkit.batch import Batch, encode_batch
from toolkit.derivation import FORCE_GRACE_L1_BLOCKS, Derivation
from toolkit.l1.client import L1Client
from toolkit.l2.executor import BlockAttributes
from toolkit.node.chain_state import ChainState
from toolkit.testing import (
    ACCOUNTS,
    CHAIN_ID,
    InMemoryL1,
    batch_data,
    batch_of,
    build_block,
    new_state,
    transfer,
)

WINDOW = 4  # L1 blocks a forced entry may wait


def derive(state: ChainState, l1: InMemoryL1) -> Derivation:
    """A fresh derivation over `state`, run until it has processed every L1 block."""
    derivation = Derivation(CHAIN_ID, state, l1)
    catch_up(derivation)
    return derivation


def catch_up(derivation: Derivation) -> None:
    async def run() -> None:
        while await derivation.step():
            pass

    asyncio.run(run())


def hashes(state: ChainState) -> list[bytes]:
    return [state.executor.canonical_hash(n) for n in range(state.unsafe_number + 1)]


def leader_with_blocks(l1: InMemoryL1, count: int = 2) -> ChainState:
    """A leader that built `count` blocks with transfers on L1 block 1."""
    origin = l1.mine()
    leader = new_state()
    for n in range(count):
        build_block(leader, origin, [transfer(0, n), transfer(1, n, value=5)])
    return leader


def test_in_memory_l1_offers_what_derivation_calls_with_l1_clients_signatures() -> None:
    source = Path(inspect.getfile(derivation_module)).read_text()
    called = {
        node.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "l1"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "self"
    }
    assert called == {"head", "block", "batches", "forced_entries", "finalized_number", "forget_from",
                      "canonical_hash"}, "update InMemoryL1"
    for name in called:
        ours, theirs = (
            inspect.signature(getattr(InMemoryL1, name)),
            inspect.signature(getattr(L1Client, name)),
        )
        assert list(ours.parameters) == list(theirs.parameters), name
        assert inspect.iscoroutinefunction(getattr(InMemoryL1, name)) == inspect.iscoroutinefunction(
            getattr(L1Client, name)
        ), name


def test_valid_batch_derives_the_blocks_the_leader_built() -> None:
    l1 = InMemoryL1()
    leader = leader_with_blocks(l1, 3)
    l1.add_batch(batch_data(leader, 1, 3), 1, 3)
    l1.mine()
    verifier = new_state()
    derivation = derive(verifier, l1)
    assert (derivation.batches_derived, derivation.skipped) == (1, [])
    assert verifier.safe_number == 3 and hashes(verifier) == hashes(leader)
    assert verifier.executor.nonce(ACCOUNTS[1].address, verifier.executor.head) == 3
    # The leader deriving its own batch keeps its blocks: nothing is re-executed into a reorg.
    own = derive(leader, l1)
    assert own.batches_derived == 1 and leader.safe_number == 3 and leader.reorg_count == 0


def test_batches_build_on_each_other_and_finality_follows_l1() -> None:
    l1 = InMemoryL1()
    leader = leader_with_blocks(l1, 4)
    l1.add_batch(batch_data(leader, 1, 2), 1, 2)
    first = l1.mine()
    l1.add_batch(batch_data(leader, 3, 4), 3, 4)
    l1.mine()
    verifier = new_state()
    derivation = derive(verifier, l1)
    assert derivation.batches_derived == 2 and hashes(verifier) == hashes(leader)
    assert verifier.finalized_number == 0
    l1.finalized = first.number
    catch_up(derivation)  # no new L1 block; finality is still read on the next L1 block
    l1.mine()
    catch_up(derivation)
    assert verifier.finalized_number == 2


def bad_batches(leader: ChainState, l1: InMemoryL1) -> dict[str, tuple[Batch | bytes | None, int, int, str]]:
    """name -> (batch or raw data, declared first, declared last, expected reason)"""
    good = batch_of(leader, 1, 2)
    block = good.blocks[0]
    return {
        "garbage": (b"\x01\x01this is not zlib", 1, 2, "bad zlib"),
        "unreadable calldata": (None, 1, 2, "posted through a contract"),
        "wrong chain": (replace(good, chain_id=902), 1, 2, "batch is for chain 902"),
        "declared range differs": (good, 1, 3, "block range in the data differs"),
        "does not extend the safe head": (replace(good, first_block_number=2), 2, 3, "the safe head is 0"),
        "wrong parent": (replace(good, parent_hash=b"\x42" * 32), 1, 2, "parent hash is not the safe head"),
        "bad transaction": (
            replace(good, blocks=(replace(block, transactions=(transfer(2, 7),)), good.blocks[1])),
            1,
            2,
            "invalid transaction",
        ),
        "origin not yet on L1": (
            replace(good, blocks=(replace(block, l1_origin_number=l1.next_block), good.blocks[1])),
            1,
            2,
            "L1 origin",
        ),
        "forced range does not follow": (
            replace(good, blocks=(replace(block, forced_start=1, forced_end=1), good.blocks[1])),
            1,
            2,
            "does not follow the parent's end 0",
        ),
        "forced entries never queued": (
            replace(good, blocks=(replace(block, forced_end=1), good.blocks[1])),
            1,
            2,
            "only 0 entries were queued",
        ),
        "timestamp before the parent": (  # equal is fine: sub-second blocks share a second
            replace(good, blocks=(replace(block, timestamp=block.timestamp - 2), good.blocks[1])),
            1,
            2,
            "timestamp",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "garbage",
        "unreadable calldata",
        "wrong chain",
        "declared range differs",
        "does not extend the safe head",
        "wrong parent",
        "bad transaction",
        "origin not yet on L1",
        "forced range does not follow",
        "forced entries never queued",
        "timestamp before the parent",
    ],
)
def test_bad_batch_is_skipped_with_its_reason_and_later_batches_still_derive(case: str) -> None:
    l1 = InMemoryL1()
    leader = leader_with_blocks(l1)
    batch, first, last, reason = bad_batches(leader, l1)[case]
    data = batch if batch is None or isinstance(batch, bytes) else encode_batch(batch)
    bad = l1.add_batch(data, first, last, problem="posted through a contract" if data is None else None)
    l1.mine()
    l1.add_batch(batch_data(leader, 1, 2), 1, 2)
    l1.mine()
    verifier = new_state()
    derivation = derive(verifier, l1)
    [skipped] = derivation.skipped
    assert reason in skipped.reason, skipped.reason
    assert (skipped.l1_tx_hash, skipped.l1_block) == ("0x" + bad.l1_tx_hash.hex(), bad.l1_block)
    assert (
        derivation.batches_derived == 1 and verifier.safe_number == 2 and hashes(verifier) == hashes(leader)
    )


def test_a_bad_batch_and_a_good_one_in_the_same_l1_block_are_taken_in_log_order() -> None:
    l1 = InMemoryL1()
    leader = leader_with_blocks(l1)
    l1.add_batch(b"\x01\x00\xc0", 1, 2)  # decodes to nothing
    l1.add_batch(batch_data(leader, 1, 2), 1, 2)
    l1.add_batch(batch_data(leader, 1, 2), 1, 2)  # the same again: no longer extends the safe head
    l1.mine()
    derivation = derive(new_state(), l1)
    assert derivation.batches_derived == 1
    assert ["bad RLP" in s.reason or "no blocks" in s.reason for s in derivation.skipped] == [True, False]
    assert "the safe head is 2" in derivation.skipped[1].reason


def test_overdue_entry_is_forced_in_by_derivation_when_no_batch_takes_it() -> None:
    l1 = InMemoryL1(inclusion_window=WINDOW)
    garbage = l1.queue_forced(b"\x02\xde\xad")
    entry = l1.queue_forced(transfer(1, 0, value=777))
    l1.mine()
    assert entry.deadline == 1 + WINDOW
    verifier = new_state()
    derivation = Derivation(CHAIN_ID, verifier, l1)
    l1.mine_to(entry.deadline + FORCE_GRACE_L1_BLOCKS)  # the sequencer still has a chance
    catch_up(derivation)
    assert (derivation.blocks_forced, verifier.safe_number) == (0, 0)
    forcing_block = l1.mine()  # now the grace is over
    catch_up(derivation)
    assert (derivation.blocks_forced, verifier.safe_number) == (1, 1)
    header = verifier.executor.header_by_number(1)
    origin = l1.blocks[forcing_block.number - 1]
    assert BlockAttributes.from_header(header) == BlockAttributes(
        origin.timestamp, origin.number, origin.hash, 0, 2
    )
    assert (
        verifier.executor.balance(ACCOUNTS[3].address, header)
        - verifier.executor.balance(ACCOUNTS[3].address, verifier.executor.header_by_number(0))
        == 777
    )
    described = {d["index"]: d for d in verifier.forced_queue.describe(l1.head_number, verifier.safe_number)}
    assert described[garbage.index]["status"] == "skipped" and "decoded" in described[garbage.index]["reason"]
    assert described[entry.index]["status"] == "included" and described[entry.index]["safe"] is True
    # Another node deriving the same L1 makes the same block.
    assert hashes(derive(new_state(), l1).state) == hashes(verifier)


def test_batch_taking_the_entry_in_the_grace_period_prevents_the_forced_block() -> None:
    l1 = InMemoryL1(inclusion_window=WINDOW)
    entry = l1.queue_forced(transfer(1, 0))
    origin = l1.mine()
    leader = new_state()
    leader.forced_queue.add(entry)
    build_block(leader, origin, [transfer(0, 0)], forced_end=1)
    l1.mine_to(entry.deadline + FORCE_GRACE_L1_BLOCKS)
    l1.add_batch(batch_data(leader, 1, 1), 1, 1)  # in the first block that would force it
    l1.mine()
    verifier = new_state()
    derivation = derive(verifier, l1)
    assert (derivation.blocks_forced, derivation.batches_derived) == (0, 1)
    assert hashes(verifier) == hashes(leader)


def test_batch_block_that_leaves_out_a_due_entry_is_extended_by_derivation() -> None:
    l1 = InMemoryL1(inclusion_window=WINDOW)
    entry = l1.queue_forced(transfer(1, 0, value=5))
    l1.mine()
    past_deadline = l1.mine_to(entry.deadline)
    leader = new_state()  # a leader that ignores the forced queue
    built = build_block(leader, past_deadline, [transfer(0, 0)], forced_end=0)
    l1.add_batch(batch_data(leader, 1, 1), 1, 1)
    l1.mine()
    verifier = new_state()
    derivation = derive(verifier, l1)
    assert derivation.batches_derived == 1 and derivation.blocks_forced == 0
    derived = verifier.executor.block_by_hash(verifier.executor.canonical_hash(1))
    assert BlockAttributes.from_header(derived.header).forced_end == 1
    assert [bytes(tx.hash) for tx in derived.transactions][0] == entry.tx_hash  # forced entries run first
    assert derived.hash != built.hash
    # The leader deriving the same L1 replaces its own block with the derived one.
    derive(leader, l1)
    assert leader.reorg_count == 1 and hashes(leader) == hashes(verifier)


def test_two_derivations_of_the_same_l1_agree_on_every_block_and_every_skip() -> None:
    l1 = InMemoryL1(inclusion_window=WINDOW)
    leader = leader_with_blocks(l1, 3)
    l1.add_batch(b"\x01\x01junk", 1, 3)
    l1.add_batch(batch_data(leader, 1, 2), 1, 2)
    l1.queue_forced(transfer(2, 0))
    l1.mine()
    l1.add_batch(encode_batch(replace(batch_of(leader, 3, 3), parent_hash=b"\x01" * 32)), 3, 3)
    l1.mine(WINDOW + FORCE_GRACE_L1_BLOCKS + 2)  # no batch takes the entry: derivation forces it
    one, two = derive(new_state(), l1), derive(new_state(), l1)
    assert one.blocks_forced == 1 and one.state.safe_number == 3
    assert hashes(one.state) == hashes(two.state)
    assert [(s.l1_tx_hash, s.reason) for s in one.skipped] == [(s.l1_tx_hash, s.reason) for s in two.skipped]
    assert one.state.forced_queue.describe(l1.head_number, 3) == two.state.forced_queue.describe(
        l1.head_number, 3
    )


@pytest.mark.xfail(
    strict=True,
    reason="found by this test: derivation extends block 1's forced range, then judges block 2 against the "
    "extended end, so the whole batch is skipped although L1 accepts it (its forcedEnd consumes the entry)",
)
def test_batch_that_takes_a_due_entry_one_block_late_is_not_skipped_as_a_whole() -> None:
    l1 = InMemoryL1(inclusion_window=WINDOW)
    entry = l1.queue_forced(transfer(1, 0, value=5))
    l1.mine()
    past_deadline = l1.mine_to(entry.deadline)
    leader = new_state()
    leader.forced_queue.add(entry)
    build_block(leader, past_deadline, [transfer(0, 0)], forced_end=0)  # leaves the due entry out...
    build_block(leader, past_deadline, [transfer(0, 1)], forced_end=1)  # ...and takes it in the next block
    l1.add_batch(batch_data(leader, 1, 2), 1, 2)  # forcedEnd 1: the Inbox accepts this batch
    l1.mine()
    derivation = derive(new_state(), l1)
    assert derivation.skipped == [] and derivation.batches_derived == 1
