"""Shared batches (mode `shared`): one L1 transaction, one namespaced segment per chain.

    Inbox.postSharedBatch(Segment[] segments, bytes[] datas, bytes attestations)
    Segment   = (uint256 chainId, uint64 firstL2Block, uint64 lastL2Block, uint64 forcedEnd, bytes32 dataHash)
    datas[i]  = segment i's data: an ordinary batch of that chain (toolkit/batch.py), keccak256 = dataHash
    segmentsHash = keccak256(abi.encode(Segment[]))            (the per-namespace hash list)
    digest       = keccak256(abi.encode(uint256 l1ChainId, address inbox, bytes32 segmentsHash))

Segments are in strictly ascending chain id order (the Inbox enforces it), so a chain has at most
one segment per shared batch. A follower of chain c reads its namespace with a proof that it is
complete: the whole segment list (five words per chain), which hashes to the `segmentsHash` of the
`SharedBatchPosted` event and to what 2/3 of stake attested; its own entry names the data hash its
data must match. It never decodes, let alone executes, the other chains' data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from toolkit.signing import SigningDomain

SEGMENT_ABI = "(uint256,uint64,uint64,uint64,bytes32)[]"


class NamespaceError(ValueError):
    """A shared batch does not hold a well-formed, complete namespace for the chain asked about."""


@dataclass(frozen=True)
class Segment:
    chain_id: int
    first: int
    last: int
    forced_end: int
    data_hash: bytes

    def as_tuple(self) -> tuple[int, int, int, int, bytes]:
        return (self.chain_id, self.first, self.last, self.forced_end, self.data_hash)

    def to_json(self) -> dict[str, Any]:
        return {"chainId": self.chain_id, "firstL2Block": self.first, "lastL2Block": self.last,
                "forcedEnd": self.forced_end, "dataHash": "0x" + self.data_hash.hex()}

    @classmethod
    def for_data(cls, chain_id: int, first: int, last: int, forced_end: int, data: bytes) -> Segment:
        return cls(chain_id, first, last, forced_end, keccak(data))


def segments_hash(segments: list[Segment] | tuple[Segment, ...]) -> bytes:
    """keccak256(abi.encode(Segment[])): what `SharedBatchPosted.segmentsHash` holds."""
    return keccak(encode([SEGMENT_ABI], [[s.as_tuple() for s in segments]]))


def shared_batch_digest(domain: SigningDomain, hash_of_segments: bytes) -> bytes:
    """Equals `Inbox.sharedBatchDigest(segmentsHash)` on the Inbox `domain` names."""
    return keccak(encode(["uint256", "address", "bytes32"], [domain.l1_chain_id, domain.inbox, hash_of_segments]))


def check_segment_list(segments: list[Segment] | tuple[Segment, ...]) -> None:
    """Raise NamespaceError unless chain ids strictly ascend (one segment per chain)."""
    for before, after in zip(segments, segments[1:], strict=False):
        if after.chain_id <= before.chain_id:
            raise NamespaceError(f"segments not in ascending chain order: {before.chain_id} then {after.chain_id}")


@dataclass(frozen=True)
class NamespaceRead:
    """One chain's namespace of one shared batch, with the list that proves it complete."""

    chain_id: int
    segment: Segment | None  # None: the batch carries nothing for this chain (proved by the list)
    data: bytes | None
    segments: tuple[Segment, ...]

    @property
    def segments_hash(self) -> bytes:
        return segments_hash(self.segments)

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "segment": self.segment.to_json() if self.segment is not None else None,
            "data": "0x" + self.data.hex() if self.data is not None else None,
            "proof": {"segments": [s.to_json() for s in self.segments],
                      "segmentsHash": "0x" + self.segments_hash.hex()},
        }


def select_namespace(segments: list[Segment], datas: list[bytes], chain_id: int) -> NamespaceRead:
    """The derivation stage that picks a chain's segment out of a shared batch's calldata."""
    if len(segments) != len(datas):
        raise NamespaceError(f"{len(segments)} segments but {len(datas)} data items")
    check_segment_list(segments)
    for segment, data in zip(segments, datas, strict=True):
        if segment.chain_id == chain_id:
            if keccak(data) != segment.data_hash:
                raise NamespaceError(f"segment of chain {chain_id}: data does not hash to its dataHash")
            return NamespaceRead(chain_id, segment, bytes(data), tuple(segments))
    return NamespaceRead(chain_id, None, None, tuple(segments))


def verify_namespace(read_json: dict[str, Any], chain_id: int, expected_segments_hash: bytes) -> bytes | None:
    """What a client of a namespace read checks: the list hashes to the attested `segmentsHash`, it
    names our chain at most once, and our data matches our entry. Returns our data (None: nothing for us)."""
    proof = read_json["proof"]
    segments = [
        Segment(int(s["chainId"]), int(s["firstL2Block"]), int(s["lastL2Block"]), int(s["forcedEnd"]),
                bytes.fromhex(s["dataHash"][2:]))
        for s in proof["segments"]
    ]
    check_segment_list(segments)
    if segments_hash(segments) != expected_segments_hash:
        raise NamespaceError("the segment list does not hash to the batch's segmentsHash")
    ours = [s for s in segments if s.chain_id == chain_id]
    if not ours:
        if read_json.get("data") is not None:
            raise NamespaceError("data served for a chain the batch does not carry")
        return None
    data = bytes.fromhex((read_json.get("data") or "0x")[2:])
    if keccak(data) != ours[0].data_hash:
        raise NamespaceError("namespace data does not match its entry in the segment list")
    return data
