"""ForcedQueue: the forced-inclusion rules every node applies (README "Force inclusion"), in memory."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from toolkit.forced_queue import ForcedEntry, ForcedQueue


def entry(index: int, l1_block: int, deadline: int | None = None) -> ForcedEntry:
    raw = f"tx-{index}".encode()
    deadline = l1_block + 10 if deadline is None else deadline
    return ForcedEntry(index, keccak(raw), "0x" + "ab" * 20, l1_block, deadline, raw)


def queue(*entries: ForcedEntry) -> ForcedQueue:
    q = ForcedQueue()
    for e in entries:
        q.add(e)
    return q


def test_empty_queue_requires_and_allows_nothing() -> None:
    q = ForcedQueue()
    assert q.includable_end(10**9) == 0 and q.required_end(10**9) == 0
    assert q.raws(0, 5) == [] and q.describe(l1_head=100, safe_l2=0) == []


def test_add_is_idempotent_for_known_entries_and_refuses_gaps() -> None:
    q = queue(entry(0, 5), entry(1, 6))
    q.add(entry(0, 5))  # an overlapping L1 range delivers it again
    assert [e.index for e in q.entries] == [0, 1]
    with pytest.raises(ValueError, match="entry 3 arrived before entry 2"):
        q.add(entry(3, 7))


def test_includable_end_counts_entries_queued_at_or_before_the_origin() -> None:
    q = queue(entry(0, 5), entry(1, 5), entry(2, 8))
    assert [q.includable_end(o) for o in (4, 5, 7, 8, 100)] == [0, 2, 2, 3, 3]


def test_required_end_counts_entries_whose_deadline_is_at_or_before_the_origin() -> None:
    q = queue(entry(0, 5, deadline=15), entry(1, 5, deadline=15), entry(2, 8, deadline=18))
    assert [q.required_end(o) for o in (14, 15, 17, 18)] == [0, 2, 2, 3]
    # A block may always include what it must: required never exceeds includable.
    assert all(q.required_end(o) <= q.includable_end(o) for o in range(30))


def test_required_end_is_a_prefix_when_deadlines_are_not_monotonic() -> None:
    # The inclusion window changed between entries: entry 1 waits longer than entry 2.
    q = queue(entry(0, 5, deadline=10), entry(1, 6, deadline=30), entry(2, 7, deadline=12))
    assert q.required_end(12) == 1, "entries are consumed in order: entry 2 cannot go before entry 1"
    assert q.required_end(30) == 3


def test_raws_slices_in_queue_order() -> None:
    q = queue(entry(0, 1), entry(1, 1), entry(2, 2))
    assert q.raws(0, 3) == [b"tx-0", b"tx-1", b"tx-2"]
    assert q.raws(1, 2) == [b"tx-1"] and q.raws(2, 2) == [] and q.raws(2, 9) == [b"tx-2"]


def test_truncate_from_l1_block_forgets_reorged_entries() -> None:
    q = queue(entry(0, 5), entry(1, 6), entry(2, 6), entry(3, 9))
    q.truncate_from_l1_block(6)
    assert [e.index for e in q.entries] == [0]
    assert q.includable_end(100) == 1 and q.required_end(100) == 1
    q.add(entry(1, 7))  # the queue continues from where it was cut
    assert q.includable_end(7) == 2


def test_describe_reports_each_status() -> None:
    q = queue(
        entry(0, 1, deadline=11), entry(1, 2, deadline=12), entry(2, 3, deadline=13), entry(3, 4, deadline=14)
    )
    q.record(l2_block=7, start=0, outcomes=(None, "nonce too low"))
    described = {d["index"]: d for d in q.describe(l1_head=13, safe_l2=6)}
    assert described[0] == {
        "index": 0,
        "txHash": "0x" + keccak(b"tx-0").hex(),
        "sender": "0x" + "ab" * 20,
        "l1Block": 1,
        "deadline": 11,
        "status": "included",
        "l2Block": 7,
        "safe": False,
    }
    assert (described[1]["status"], described[1]["reason"], described[1]["safe"]) == (
        "skipped",
        "nonce too low",
        False,
    )
    # Overdue only once L1 is past the deadline (L1 refuses batches from block deadline + 1 on).
    assert described[2]["status"] == "queued" and "l2Block" not in described[2]
    assert described[3]["status"] == "queued"
    assert q.describe(l1_head=14, safe_l2=7)[2]["status"] == "overdue"
    assert q.describe(l1_head=14, safe_l2=7)[0]["safe"] is True


def test_forget_above_drops_outcomes_of_dropped_blocks() -> None:
    q = queue(entry(0, 1), entry(1, 1), entry(2, 1))
    q.record(l2_block=4, start=0, outcomes=(None,))
    q.record(l2_block=5, start=1, outcomes=(None, "invalid"))
    q.forget_above(4)
    assert set(q.outcomes) == {0}
    assert [d["status"] for d in q.describe(l1_head=2, safe_l2=0)] == ["included", "queued", "queued"]
