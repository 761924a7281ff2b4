"""The signing guard in-process: one signature per height, kept across restarts (a real journal file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.l2.executor import BlockAttributes
from toolkit.l2.signed_block import SignedBlock
from toolkit.sequencer.signing_guard import DoubleSignRefused, SigningGuard

CHAIN = 901


def block(number: int, tag: int, chain_id: int = CHAIN) -> SignedBlock:
    return SignedBlock(
        chain_id=chain_id, number=number, parent_hash=bytes(32), block_hash=bytes([tag]) * 32,
        attributes=BlockAttributes(1_700_000_000 + number, 1, bytes(32), 0, 0), raw_transactions=(),
        signature=bytes([tag]) * 65,
    )


def sign(guard: SigningGuard, candidate: SignedBlock) -> SignedBlock:
    return guard.sign(candidate.chain_id, candidate.number, candidate.block_hash, lambda: candidate)


def test_a_second_block_at_a_signed_height_is_refused(tmp_path: Path) -> None:
    guard = SigningGuard(tmp_path / "journal.jsonl")
    assert sign(guard, block(5, 1)) == block(5, 1)
    with pytest.raises(DoubleSignRefused, match="block 5: already signed"):
        sign(guard, block(5, 2))
    # the same block again is fine and returns the first signature; other heights and chains are free
    assert sign(guard, block(5, 1)) == block(5, 1)
    assert sign(guard, block(6, 2)) == block(6, 2)
    assert sign(guard, block(5, 3, chain_id=902)) == block(5, 3, chain_id=902)


def test_the_guard_holds_across_a_restart_and_a_torn_last_line(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    guard = SigningGuard(journal)
    for number in (1, 2, 3):
        sign(guard, block(number, number))
    guard.close()  # a SIGKILL loses nothing more: every line is fsynced before the signature is returned
    with journal.open("a") as torn:
        torn.write('{"chainId": 901, "number": 4, "blockHa')
    restarted = SigningGuard(journal)
    with pytest.raises(DoubleSignRefused):
        sign(restarted, block(2, 9))
    assert [b.number for b in restarted.signed_above(CHAIN, 1)] == [2, 3]
    assert sign(restarted, block(4, 4)) == block(4, 4)  # the torn line never left the process


def test_release_reopens_heights_and_is_journaled(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    guard = SigningGuard(journal)
    for number in (1, 2, 3):
        sign(guard, block(number, number))
    assert guard.release_above(CHAIN, 1, "test") == [2, 3]
    assert sign(guard, block(2, 7)) == block(2, 7)
    guard.close()
    restarted = SigningGuard(journal)
    assert restarted.signed(CHAIN, 2) == block(2, 7) and restarted.signed(CHAIN, 3) is None


def test_without_a_journal_the_guard_still_refuses_in_memory() -> None:
    guard = SigningGuard(None)
    sign(guard, block(1, 1))
    with pytest.raises(DoubleSignRefused):
        sign(guard, block(1, 2))
    guard.forget_below(CHAIN, 2)
    assert guard.signed(CHAIN, 1) is None
