"""Batch attestations (modes pos and committee): validators sign what the leader posts.

A validator signs batchDigest(chainId, first, last, forcedEnd, keccak(data)) only when the batch
describes exactly the blocks of its own canonical chain (parent, timestamps, L1 origins, forced
ranges, transactions). The leader asks every peer, adds its own signature, and submits the
signatures sorted by signer address, as the registry requires.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from eth_account import Account

from toolkit.batch import BatchDecodeError, decode_batch
from toolkit.bundle_markers import MARKER_NAMESPACE, MarkerDecodeError, decode_markers
from toolkit.l2.executor import BlockAttributes, L2Executor
from toolkit.node.partition import peer_links
from toolkit.shared_batch import NamespaceError, Segment, check_segment_list
from toolkit.signing import SigningDomain, batch_digest

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=3)
ATTEST_PATH = "/p2p/attest"
ATTEST_SHARED_PATH = "/p2p/attest-shared"  # mode shared: {"segments": [attest request, ...]}


class AttestationRefused(Exception):
    pass


def sign_digest(private_key: str, digest: bytes) -> tuple[str, bytes]:
    signed = Account.unsafe_sign_hash(digest, private_key)
    signature = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])
    return Account.from_key(private_key).address, signature


def check_batch_matches_chain(
    executor: L2Executor, chain_id: int, first: int, last: int, forced_end: int, data: bytes
) -> None:
    """Raise AttestationRefused unless the batch holds exactly our canonical blocks first..last.

    Our own blocks bound what an honest batch can inflate to, so a small body that inflates far
    is refused after inflating at most that much (never megabytes on the leader's say-so)."""
    if not 1 <= first <= last or executor.canonical_hash(last) is None:
        raise AttestationRefused(f"we do not hold blocks {first}..{last}")
    try:
        batch = decode_batch(data, max_payload=_payload_bound(executor, first, last))
    except BatchDecodeError as exc:
        raise AttestationRefused(f"batch does not decode: {exc}") from exc
    if batch.chain_id != chain_id or (batch.first_block_number, batch.last_block_number) != (first, last):
        raise AttestationRefused("batch header does not match the request")
    if executor.canonical_hash(first - 1) != batch.parent_hash:
        raise AttestationRefused(f"batch parent is not our block {first - 1}")
    for offset, block in enumerate(batch.blocks):
        block_hash = executor.canonical_hash(first + offset)
        if block_hash is None:
            raise AttestationRefused(f"we do not have block {first + offset} yet")
        ours = BlockAttributes.from_header(executor.header_by_hash(block_hash))
        theirs = (block.timestamp, block.l1_origin_number, block.forced_start, block.forced_end)
        if (ours.timestamp, ours.l1_origin_number, ours.forced_start, ours.forced_end) != theirs:
            raise AttestationRefused(f"block {first + offset} differs from ours")
        if executor.raw_transactions(block_hash) != block.transactions:
            raise AttestationRefused(f"block {first + offset} holds other transactions than ours")
    if batch.blocks[-1].forced_end != forced_end:
        raise AttestationRefused("forcedEnd does not match the last block")


def _payload_bound(executor: L2Executor, first: int, last: int) -> int:
    """More than the RLP payload of our blocks first..last can take (headers, lengths, transactions)."""
    size = 256
    for number in range(first, last + 1):
        block_hash = executor.canonical_hash(number)
        assert block_hash is not None
        size += 64 + sum(len(raw) + 8 for raw in executor.raw_transactions(block_hash))
    return size


async def collect_attestations(
    peers: list[str], request: dict[str, Any], own_key: str, chain_id: int, domain: SigningDomain
) -> bytes:
    """Ask every peer to attest; returns our signature and theirs, sorted by signer address."""
    digest = batch_digest(domain, chain_id, request["first"], request["last"], request["forcedEnd"],
                          bytes.fromhex(request["data"][2:]))
    return await collect_signatures(peers, ATTEST_PATH, request, own_key, digest)


def check_shared_request(executors: dict[int, L2Executor], body: dict[str, Any]) -> list[Segment]:
    """A shared batch's segments, each checked against our own chain (AttestationRefused otherwise)."""
    raw_segments = body["segments"]
    if not isinstance(raw_segments, list) or not raw_segments:
        raise AttestationRefused("segments must be a non-empty list")
    segments = []
    for raw in raw_segments:
        chain_id, first, last = int(raw["chainId"]), int(raw["first"]), int(raw["last"])
        forced_end, data = int(raw["forcedEnd"]), bytes.fromhex(raw["data"][2:])
        if chain_id == MARKER_NAMESPACE:  # bundle markers: well-formed is enough, verifiers audit them
            try:
                decode_markers(data)
            except MarkerDecodeError as exc:
                raise AttestationRefused(str(exc)) from exc
            segments.append(Segment.for_data(chain_id, first, last, forced_end, data))
            continue
        executor = executors.get(chain_id)
        if executor is None:
            raise AttestationRefused(f"this node does not follow chain {chain_id}")
        check_batch_matches_chain(executor, chain_id, first, last, forced_end, data)
        segments.append(Segment.for_data(chain_id, first, last, forced_end, data))
    try:
        check_segment_list(segments)
    except NamespaceError as exc:
        raise AttestationRefused(str(exc)) from exc
    return segments


async def collect_signatures(peers: list[str], path: str, request: dict[str, Any], own_key: str, digest: bytes) -> bytes:
    """Our signature of `digest` and every peer's that POST `path` returns, sorted by signer address."""
    signatures: dict[str, bytes] = dict([sign_digest(own_key, digest)])

    async def ask(session: aiohttp.ClientSession, peer: str) -> None:
        try:
            peer_links.check(peer)
            async with session.post(f"{peer}{path}", json=request) as response:
                reply = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.debug("no attestation from %s: %s", peer, exc)
            return
        if response.status != 200 or "signature" not in reply:
            log.info("%s refused to attest: %s", peer, reply.get("reason"))
            return
        signature = bytes.fromhex(reply["signature"][2:])
        signer = Account._recover_hash(digest, signature=signature)
        signatures[signer] = signature

    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        await asyncio.gather(*(ask(session, peer) for peer in peers))
    return b"".join(signatures[signer] for signer in sorted(signatures, key=lambda a: int(a, 16)))
