"""The batch wire format: round trip, and every malformed input is a BatchDecodeError."""

import zlib

import pytest
import rlp

from toolkit.batch import (
    COMPRESSION_NONE,
    COMPRESSION_ZLIB,
    MAX_DECOMPRESSED_BYTES,
    Batch,
    BatchBlock,
    BatchDecodeError,
    decode_batch,
    encode_batch,
)

BATCH = Batch(
    chain_id=901,
    first_block_number=5,
    parent_hash=b"\x11" * 32,
    blocks=(BatchBlock(7, 1_700_000_001, 0, 0, (b"\x02abc", b"\xf8def")), BatchBlock(8, 1_700_000_002, 0, 0, ())),
)


@pytest.mark.parametrize("compression", [COMPRESSION_ZLIB, COMPRESSION_NONE])
def test_round_trip(compression: int) -> None:
    decoded = decode_batch(encode_batch(BATCH, compression))
    assert decoded == BATCH
    assert decoded.last_block_number == 6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (bytes([9, 1]) + zlib.compress(b"x"), "unknown batch version"),
        (bytes([1, 7]) + b"abc", "unknown compression"),
        (bytes([1, 1]) + b"not zlib at all", "bad zlib"),
        (bytes([1, 1]) + zlib.compress(b"\xc3\x01\x02\x03")[:-3], "zlib"),
        (bytes([1, 1]) + zlib.compress(b"\xff\xff\xff"), "bad RLP"),
        (bytes([1, 0]) + rlp.encode([901, 1, b"\x00" * 32, []]), "no blocks"),
        (bytes([1, 0]) + rlp.encode([901, 1, b"\x00" * 31, [[1, 2, 0, 0, []]]]), "bad RLP"),
    ],
)
def test_malformed_batches_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(BatchDecodeError, match=message):
        decode_batch(data)


def test_decompression_bomb_is_rejected() -> None:
    bomb = bytes([1, 1]) + zlib.compress(b"\0" * (MAX_DECOMPRESSED_BYTES + 1))
    with pytest.raises(BatchDecodeError, match="inflates past"):
        decode_batch(bomb)
