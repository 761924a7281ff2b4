"""Batch wire format: the L2 blocks a sequencer posts to the L1 Inbox.

    data  = version (1 byte) || compression (1 byte) || compressed(payload)
    payload = rlp([chainId, firstBlockNumber, parentHash, [block, ...]])
    block   = [l1OriginNumber, timestamp, forcedStart, forcedEnd, [rawTx, ...]]

The L1 origin hash is not carried: derivation reads it from L1, so a batch built on an L1 block
that was later reorged out derives to different blocks, as it should.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import rlp
from rlp.sedes import Binary, CountableList, big_endian_int, binary

BATCH_VERSION = 1
COMPRESSION_NONE = 0
COMPRESSION_ZLIB = 1
COMPRESSION_BROTLI = 2
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024

try:  # brotli is optional: used where installed
    import brotli  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the machine
    brotli = None


class BatchDecodeError(Exception):
    """The batch data is not a well-formed batch; derivation skips it as a whole."""


class _BlockSedes(rlp.Serializable):
    fields = [
        ("l1_origin_number", big_endian_int),
        ("timestamp", big_endian_int),
        ("forced_start", big_endian_int),
        ("forced_end", big_endian_int),
        ("transactions", CountableList(binary)),
    ]


class _PayloadSedes(rlp.Serializable):
    fields = [
        ("chain_id", big_endian_int),
        ("first_block_number", big_endian_int),
        ("parent_hash", Binary.fixed_length(32)),
        ("blocks", CountableList(_BlockSedes)),
    ]


@dataclass(frozen=True)
class BatchBlock:
    l1_origin_number: int
    timestamp: int
    forced_start: int
    forced_end: int
    transactions: tuple[bytes, ...]


@dataclass(frozen=True)
class Batch:
    chain_id: int
    first_block_number: int
    parent_hash: bytes
    blocks: tuple[BatchBlock, ...]

    @property
    def last_block_number(self) -> int:
        return self.first_block_number + len(self.blocks) - 1


def encode_batch(batch: Batch, compression: int = COMPRESSION_ZLIB) -> bytes:
    if not batch.blocks:
        raise ValueError("a batch holds at least one block")
    payload = rlp.encode(
        _PayloadSedes(
            chain_id=batch.chain_id,
            first_block_number=batch.first_block_number,
            parent_hash=batch.parent_hash,
            blocks=[
                _BlockSedes(b.l1_origin_number, b.timestamp, b.forced_start, b.forced_end, list(b.transactions))
                for b in batch.blocks
            ],
        )
    )
    return bytes([BATCH_VERSION, compression]) + _compress(payload, compression)


def decode_batch(data: bytes, max_payload: int = MAX_DECOMPRESSED_BYTES) -> Batch:
    """Decode batch data; the payload may inflate to at most `max_payload` bytes (checked while
    inflating, so a small body that would inflate far never costs more than that)."""
    if len(data) < 3:
        raise BatchDecodeError(f"batch of {len(data)} bytes is too short")
    if data[0] != BATCH_VERSION:
        raise BatchDecodeError(f"unknown batch version {data[0]}")
    payload = _decompress(data[2:], data[1], max_payload)
    try:
        decoded = rlp.decode(payload, sedes=_PayloadSedes)
    except (rlp.DecodingError, rlp.DeserializationError) as exc:
        raise BatchDecodeError(f"bad RLP: {exc}") from exc
    if not decoded.blocks:
        raise BatchDecodeError("batch holds no blocks")
    return Batch(
        chain_id=decoded.chain_id,
        first_block_number=decoded.first_block_number,
        parent_hash=decoded.parent_hash,
        blocks=tuple(
            BatchBlock(b.l1_origin_number, b.timestamp, b.forced_start, b.forced_end, tuple(b.transactions))
            for b in decoded.blocks
        ),
    )


def _compress(payload: bytes, compression: int) -> bytes:
    if compression == COMPRESSION_ZLIB:
        return zlib.compress(payload, 9)
    if compression == COMPRESSION_BROTLI:
        if brotli is None:
            raise ValueError("brotli compression asked for but the brotli package is not installed")
        return brotli.compress(payload)
    if compression == COMPRESSION_NONE:
        return payload
    raise ValueError(f"unknown compression {compression}")


def _decompress(body: bytes, compression: int, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    if compression == COMPRESSION_NONE:
        if len(body) > limit:
            raise BatchDecodeError(f"batch payload of {len(body)} bytes is over {limit}")
        return body
    if compression == COMPRESSION_ZLIB:
        inflater = zlib.decompressobj()
        try:
            payload = inflater.decompress(body, limit)
        except zlib.error as exc:
            raise BatchDecodeError(f"bad zlib data: {exc}") from exc
        if inflater.unconsumed_tail:
            raise BatchDecodeError(f"batch inflates past {limit} bytes")
        if not inflater.eof:
            raise BatchDecodeError("truncated zlib data")
        return payload
    if compression == COMPRESSION_BROTLI:
        if brotli is None:
            raise BatchDecodeError("brotli batch, but the brotli package is not installed on this node")
        try:
            payload = brotli.decompress(body)
        except brotli.error as exc:
            raise BatchDecodeError(f"bad brotli data: {exc}") from exc
        if len(payload) > limit:
            raise BatchDecodeError(f"batch inflates past {limit} bytes")
        return payload
    raise BatchDecodeError(f"unknown compression {compression}")
