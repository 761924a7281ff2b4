"""An attestation request is bounded before it is inflated: a small body that inflates to megabytes
is refused after inflating no more than our own blocks could take (real executor, real codec)."""

from __future__ import annotations

import zlib

import pytest
import rlp

from toolkit.batch import BATCH_VERSION, COMPRESSION_ZLIB
from toolkit.l1.client import L1Block
from toolkit.sequencer.attestation import AttestationRefused, check_batch_matches_chain
from toolkit.testing import CHAIN_ID, GENESIS_TIMESTAMP, batch_data, build_block, new_state, transfer

ORIGIN = L1Block(1, b"\x11" * 32, GENESIS_TIMESTAMP + 1)


def test_a_bomb_is_refused_before_it_inflates_and_an_honest_batch_passes() -> None:
    state = new_state()
    build_block(state, ORIGIN, [transfer(0, 0)])
    build_block(state, ORIGIN, [transfer(0, 1)])
    honest = batch_data(state, 1, 2)
    forced_end = 0
    check_batch_matches_chain(state.executor, CHAIN_ID, 1, 2, forced_end, honest)
    payload = rlp.encode([CHAIN_ID, 1, b"\0" * 32, [[1, 1, 0, 0, [b"\0" * 3_000_000]]]])
    bomb = bytes([BATCH_VERSION, COMPRESSION_ZLIB]) + zlib.compress(payload, 9)
    assert len(bomb) < 8_000
    with pytest.raises(AttestationRefused, match="inflates past"):
        check_batch_matches_chain(state.executor, CHAIN_ID, 1, 2, forced_end, bomb)
    with pytest.raises(AttestationRefused, match="we do not hold blocks 1..9"):
        check_batch_matches_chain(state.executor, CHAIN_ID, 1, 9, forced_end, honest)
    with pytest.raises(AttestationRefused, match="we do not hold blocks 0..2"):
        check_batch_matches_chain(state.executor, CHAIN_ID, 0, 2, forced_end, honest)
