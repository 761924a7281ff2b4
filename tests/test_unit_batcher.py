"""Batcher: what it posts and when, against a recording in-memory poster and a hand-moved clock."""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

import pytest
from eth_utils import keccak

from toolkit.batch import COMPRESSION_NONE, Batch, BatchBlock, decode_batch
from toolkit.derivation import Derivation
from toolkit.forced_queue import ForcedEntry
from toolkit.l1.client import L1Block
from toolkit.l2.executor import BlockExecutionError, ExecutedBlock
from toolkit.node.chain_state import ChainState
from toolkit.sequencer.batcher import MAX_BATCH_BYTES, Batcher
from toolkit.testing import (
    ACCOUNTS,
    CHAIN_ID,
    GENESIS_TIMESTAMP,
    FakeClock,
    InMemoryL1,
    RecordingPoster,
    build_block,
    new_state,
    transfer,
)

KEY = ACCOUNTS[0].private_key
ORIGIN = L1Block(1, b"\x11" * 32, GENESIS_TIMESTAMP + 1)
MAX_BLOCKS, MAX_SECONDS = 4, 2.0


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The batcher's module sees this clock; nothing else does."""
    fake = FakeClock()
    monkeypatch.setattr(sys.modules[Batcher.__module__], "time", fake)
    return fake


def batcher_for(state: ChainState, poster: RecordingPoster, **settings: Any) -> Batcher:
    settings = {"max_blocks": MAX_BLOCKS, "max_seconds": MAX_SECONDS, **settings}
    return Batcher(CHAIN_ID, state, poster, KEY, **settings)  # the poster stands in for the L1Client


def blocks(state: ChainState, count: int, origin: L1Block = ORIGIN) -> list[ExecutedBlock]:
    """`count` more blocks with a transfer each."""
    start = state.unsafe_number
    return [build_block(state, origin, [transfer(1, start + n)]) for n in range(count)]


def post(batcher: Batcher) -> bool:
    return asyncio.run(batcher.post_due())


def test_build_batch_round_trips_to_the_blocks() -> None:
    state = new_state()
    raw = transfer(2, 0)
    entry = ForcedEntry(0, keccak(raw), "0x" + "00" * 20, 1, 11, raw)
    state.forced_queue.add(entry)
    built = [
        build_block(state, ORIGIN, [transfer(1, 0), transfer(1, 1)]),
        build_block(state, ORIGIN, []),
        build_block(state, L1Block(2, b"\x22" * 32, GENESIS_TIMESTAMP + 2), [transfer(1, 2)], forced_end=1),
    ]
    batcher = batcher_for(state, RecordingPoster())
    expected = Batch(
        CHAIN_ID,
        1,
        state.executor.genesis_hash,
        tuple(
            BatchBlock(
                b.attributes.l1_origin_number,
                b.attributes.timestamp,
                b.attributes.forced_start,
                b.attributes.forced_end,
                b.raw_transactions,
            )
            for b in built
        ),
    )
    assert decode_batch(batcher.build_batch(1, 3)) == expected
    assert expected.blocks[2].transactions == (transfer(1, 2),), "forced entries come from L1, not the batch"
    assert decode_batch(batcher.build_batch(2, 3)).parent_hash == built[0].hash
    uncompressed = batcher_for(state, RecordingPoster(), compression="none").build_batch(1, 3)
    assert uncompressed[1] == COMPRESSION_NONE and decode_batch(uncompressed) == expected


def test_posted_batches_derive_to_the_same_blocks(clock: FakeClock) -> None:
    l1 = InMemoryL1()
    state = new_state()
    origin = l1.mine()
    built = blocks(state, 4, origin=origin)
    batcher = batcher_for(state, RecordingPoster(l1), max_seconds=0)  # due as soon as a block waits
    assert post(batcher) and batcher.last_posted == 4
    built += blocks(state, 2, origin=origin)
    assert post(batcher) and batcher.last_posted == 6
    verifier = new_state()
    derivation = Derivation(CHAIN_ID, verifier, l1)
    while asyncio.run(derivation.step()):
        pass
    assert derivation.skipped == [] and verifier.safe_number == 6
    assert [verifier.executor.canonical_hash(n) for n in range(1, 7)] == [b.hash for b in built]


def test_a_batch_over_the_size_limit_is_split(clock: FakeClock) -> None:
    noise = random.Random(7)
    state = new_state()
    for n in range(4):  # ~45 kB of incompressible calldata per block
        big = transfer(1, n, data=noise.randbytes(45_000), gas=2_000_000)
        assert len(build_block(state, ORIGIN, [big]).raw_transactions) == 1
    poster = RecordingPoster()
    batcher = batcher_for(state, poster, max_seconds=0)
    assert len(batcher.build_batch(1, 4)) > MAX_BATCH_BYTES
    assert post(batcher) and post(batcher)
    assert [(c.first, c.last) for c in poster.calls] == [(1, 2), (3, 4)]
    assert all(len(c.data) <= MAX_BATCH_BYTES for c in poster.calls)
    assert decode_batch(poster.calls[1].data).parent_hash == state.executor.canonical_hash(2)


def test_due_after_max_blocks_or_max_seconds_since_the_first_waiting_block(clock: FakeClock) -> None:
    state = new_state()
    batcher = batcher_for(state, RecordingPoster())
    assert not batcher.due()  # nothing waiting
    clock.advance(100)
    assert not batcher.due(), "time without blocks makes nothing due"
    blocks(state, 1)
    assert not batcher.due()  # the wait starts when the batcher first sees a block waiting
    clock.advance(MAX_SECONDS - 0.01)
    assert not batcher.due()
    clock.advance(0.01)
    assert batcher.due()
    fresh = batcher_for(state, RecordingPoster())
    blocks(state, MAX_BLOCKS - 1)
    assert fresh.due(), "max_blocks waiting is due at once"


def test_posting_resets_the_wait(clock: FakeClock) -> None:
    state = new_state()
    blocks(state, MAX_BLOCKS)
    poster = RecordingPoster()
    batcher = batcher_for(state, poster)
    assert post(batcher) and not post(batcher)  # nothing left to post
    clock.advance(10 * MAX_SECONDS)
    blocks(state, 1)
    assert not batcher.due(), "the wait counts from this block, not from the last post"
    clock.advance(MAX_SECONDS)
    assert post(batcher) and [(c.first, c.last) for c in poster.calls] == [(1, 4), (5, 5)]


def test_post_records_range_forced_end_and_attestations(clock: FakeClock) -> None:
    state = new_state()
    raw = transfer(2, 0)
    state.forced_queue.add(ForcedEntry(0, keccak(raw), "0x" + "00" * 20, 1, 11, raw))
    build_block(state, ORIGIN, [transfer(1, 0)], forced_end=1)
    blocks(state, 1)
    poster = RecordingPoster()
    batcher = batcher_for(state, poster, max_blocks=2)
    requests: list[dict[str, Any]] = []

    async def attest(request: dict[str, Any]) -> bytes:
        requests.append(request)
        return b"\x01" * 65

    batcher.attest = attest
    assert post(batcher)
    [call] = poster.calls
    assert (call.private_key, call.chain_id, call.first, call.last, call.forced_end) == (
        KEY,
        CHAIN_ID,
        1,
        2,
        1,
    )
    assert call.attestations == b"\x01" * 65
    assert requests == [
        {"chainId": CHAIN_ID, "first": 1, "last": 2, "forcedEnd": 1, "data": "0x" + call.data.hex()}
    ]
    assert (batcher.batches_posted, batcher.last_posted, batcher.last_error) == (1, 2, None)


@pytest.mark.parametrize(
    ("reason", "overdue"),
    [("ForcedTxOverdue (0x1234)", True), ("NotSequencer (0x5678)", False)],
    ids=["forced entry overdue", "another refusal"],
)
def test_refused_batch_restarts_from_the_safe_head(clock: FakeClock, reason: str, overdue: bool) -> None:
    state = new_state()
    blocks(state, MAX_BLOCKS)
    poster = RecordingPoster()
    batcher = batcher_for(state, poster)
    calls: list[str] = []
    batcher.on_forced_overdue = lambda: calls.append("rebuild")
    assert post(batcher) and batcher.last_posted == MAX_BLOCKS  # posted, not yet safe
    blocks(state, MAX_BLOCKS)
    poster.refuse_next(reason)
    assert not post(batcher)
    assert batcher.last_posted == state.safe_number == 0, "posting restarts from the safe head"
    assert calls == (["rebuild"] if overdue else [])
    assert batcher.overdue_rejections == int(overdue) and batcher.last_error == reason
    assert post(batcher) and (poster.calls[-1].first, poster.calls[-1].last) == (1, 2 * MAX_BLOCKS)  # all waiting
    assert batcher.last_error is None


def test_reorgs_and_the_safe_head_move_the_posting_cursor(clock: FakeClock) -> None:
    state = new_state()
    built = blocks(state, MAX_BLOCKS)
    poster = RecordingPoster()
    batcher = batcher_for(state, poster, max_seconds=0)
    assert post(batcher) and batcher.last_posted == 4
    state.rewind_unsafe(2)  # blocks 3 and 4 dropped before they were safe: post their replacements
    assert batcher.last_posted == 2
    blocks(state, 2)
    assert post(batcher) and (poster.calls[-1].first, poster.calls[-1].last) == (3, 4)
    # Blocks another leader's batch made safe are not posted again.
    other_poster = RecordingPoster()
    later = batcher_for(state, other_poster, max_seconds=0)
    assert later.last_posted == 0
    state.adopt_safe(built[:2], l1_block=5)
    assert post(later) and [(c.first, c.last) for c in other_poster.calls] == [(3, 4)]


def test_blocks_sharing_a_second_are_built_posted_and_derived_alike(clock: FakeClock) -> None:
    """100 ms blocks: several blocks carry one second's timestamp; one before its parent is refused."""
    l1 = InMemoryL1()
    state = new_state()
    origin = l1.mine()
    second = state.executor.head.timestamp + 1
    built = [build_block(state, origin, [transfer(1, n)], timestamp=second) for n in range(3)]
    assert [b.block.header.timestamp for b in built] == [second] * 3
    with pytest.raises(BlockExecutionError, match="before the parent"):
        build_block(state, origin, [transfer(1, 3)], timestamp=second - 1)
    assert post(batcher_for(state, RecordingPoster(l1), max_seconds=0))
    verifier = new_state()
    derivation = Derivation(CHAIN_ID, verifier, l1)
    while asyncio.run(derivation.step()):
        pass
    assert derivation.skipped == [] and verifier.safe_number == 3
    assert [verifier.executor.canonical_hash(n) for n in range(1, 4)] == [b.hash for b in built]
