"""Bundle markers (mode shared): which bundles a shared batch's blocks hold, carried in namespace 0.

A shared batch may carry one extra segment for chain id 0 (the shared set's own namespace; no L2
chain uses it), attested with the rest: `first = last = forcedEnd = 0`, data =
    version(1) || rlp([[bundleId, atomicity, [[chainId, l2BlockNumber, txHash], ...]], ...])
A verifier that follows every chain checks each marker against what it derived (every leg in the
named block; for `execution`, with status 1) and reports violations.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp

MARKER_NAMESPACE = 0
MARKER_VERSION = 1


class MarkerDecodeError(ValueError):
    pass


@dataclass(frozen=True)
class MarkedLeg:
    chain_id: int
    block_number: int
    tx_hash: bytes


@dataclass(frozen=True)
class BundleMarker:
    bundle_id: bytes
    atomicity: str
    legs: tuple[MarkedLeg, ...]


def encode_markers(markers: list[BundleMarker]) -> bytes:
    return bytes([MARKER_VERSION]) + rlp.encode([
        [m.bundle_id, m.atomicity.encode(), [[leg.chain_id, leg.block_number, leg.tx_hash] for leg in m.legs]]
        for m in markers
    ])


def decode_markers(data: bytes) -> list[BundleMarker]:
    if not data or data[0] != MARKER_VERSION:
        raise MarkerDecodeError("unknown bundle marker version")
    try:
        items = rlp.decode(data[1:])
        return [
            BundleMarker(bytes(bundle_id), atomicity.decode(), tuple(
                MarkedLeg(int.from_bytes(c, "big"), int.from_bytes(n, "big"), bytes(h)) for c, n, h in legs))
            for bundle_id, atomicity, legs in items
        ]
    except (rlp.DecodingError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise MarkerDecodeError(f"bad bundle markers: {exc}") from exc
