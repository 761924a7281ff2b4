"""Hand a non-leader's mempool to the leader, with an answer per transaction and a loop guard.

Sender (`MempoolHandoff`, one background task per node): while the node does not lead and its
pool is not empty, POST the pool to `{leader_url}/p2p/handoff` (chunks of at most 500 txs):

    {"from": "0x<our address>", "handoff": "<handoff id>", "transactions": ["0x<raw>", ...]}

Receiver (`receive_handoff`, behind POST /p2p/handoff): adds each transaction to its own pool
whether or not it leads, and answers per transaction hash (keccak of the raw bytes):

    {"results": {"0x<hash>": "held" | "known" | "included" | "rejected: <reason>"}}

A transaction leaves the sender's pool only when the receiver holds it ("held", "known") or it
cannot run any more ("included": in a block, or its nonce is used). "rejected: ..." drops it as
invalid for everyone (logged, kept in `rejections`), except "txpool is full", which is retried.
A timeout, connection error, non-200 or malformed answer keeps every transaction and retries
with backoff (0.2 s doubling to 5 s) while the leader stays the same; a new leader resets it.

Loop guard, for nodes that disagree on who leads: a node forwards a transaction at most once per
handoff id, and never to a node it received that transaction from through a handoff
(`HandoffOrigins`). If two nodes hand the same transaction to each other at the same time, each
sees the other's copy arrive while its own offer is in flight and keeps its copy: a transaction
may end in both pools, never in none. The price of the origin rule: a transaction B holds for A
stays with B if A later really leads, until B leads, a block includes it (the gateway re-sends
what it accepted and has no receipt for), or B's memory of its origin ages out.

Wiring in a sequencer node (one `MempoolHandoff` per node, sharing its `origins` with the route):

    handoff = MempoolHandoff(pool, address, url)         # start() in the node's start()
    handoff.note_leader(f"{epoch}:{leader}", leader, url_of(leader), is_leader)   # each L1 step
    app.router.add_post(HANDOFF_PATH, make_handoff_handler(pool, handoff.origins))
    handoff.origins.listeners.append(on_new_pool_tx)      # e.g. wake the block builder
    await handoff.close()                                 # in the node's stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from eth_utils import is_hex_address, keccak

from toolkit.bounded_json import loads_bounded
from toolkit.l2.transactions import InvalidTransaction
from toolkit.l2.txpool import MAX_POOL_TRANSACTIONS, PoolEntry, TxPool
from toolkit.node.partition import peer_links

log = logging.getLogger(__name__)

HANDOFF_PATH = "/p2p/handoff"
MAX_CHUNK_TRANSACTIONS = 500  # per POST from the sender
MAX_HANDOFF_TRANSACTIONS = 2_000  # per body the receiver accepts
MAX_HANDOFF_BYTES = 2 * 1024 * 1024  # raw transaction bytes per body (hex doubles it: under 5 MiB)
MAX_HANDOFF_ID_LENGTH = 200
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 5.0
IDLE_RECHECK_SECONDS = 1.0  # look at the pool even without a poke (a reorg may have refilled it)
POST_TIMEOUT = aiohttp.ClientTimeout(total=10)
ORIGINS_KEPT = 2 * MAX_POOL_TRANSACTIONS
REJECTIONS_KEPT = 100
YIELD_EVERY = 100  # receiver: let the event loop run between this many pool additions

HELD, KNOWN, INCLUDED, REJECTED = "held", "known", "included", "rejected"
CONFIRMED = frozenset({HELD, KNOWN, INCLUDED})
TRANSIENT_REFUSALS = ("txpool is full", "transaction underpriced")  # the receiver may take it later: keep and retry

SessionFactory = Callable[[], aiohttp.ClientSession]


class HandoffRejected(Exception):
    """A malformed handoff body; the HTTP handler answers 400 with this message."""


def raw_hash(raw: bytes) -> bytes:
    """The transaction hash of a raw signed transaction (keccak of its bytes, typed or legacy)."""
    return bytes(keccak(raw))


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class _BoundedSet:
    """An insertion-ordered set that forgets its oldest members past `capacity`."""

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[bytes, None] = OrderedDict()
        self._capacity = capacity

    def add(self, item: bytes) -> None:
        self._items[item] = None
        self._items.move_to_end(item)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()


class HandoffOrigins:
    """What one node's receiving and sending sides share.

    - where each transaction came from through a handoff (never hand it back there);
    - which transactions the node is offering right now, and those of them a peer handed to us
      meanwhile ("claimed": keep them whatever the peer answers, or both copies could be dropped);
    - listeners told the hash of each transaction a handoff added to the pool.
    """

    def __init__(self, capacity: int = ORIGINS_KEPT) -> None:
        self._origins: OrderedDict[bytes, set[str]] = OrderedDict()
        self._capacity = capacity
        self._offering: dict[bytes, int] = {}  # tx hash -> offers in flight
        self._claimed: set[bytes] = set()
        self.listeners: list[Callable[[bytes], None]] = []

    def remember(self, tx_hash: bytes, origin: str) -> None:
        tx_hash = bytes(tx_hash)
        self._origins.setdefault(tx_hash, set()).add(origin.lower())
        self._origins.move_to_end(tx_hash)
        while len(self._origins) > self._capacity:
            self._origins.popitem(last=False)

    def came_from(self, tx_hash: bytes, address: str | None) -> bool:
        return address is not None and address.lower() in self._origins.get(bytes(tx_hash), ())

    def origins_of(self, tx_hash: bytes) -> frozenset[str]:
        return frozenset(self._origins.get(bytes(tx_hash), ()))

    def is_offering(self, tx_hash: bytes) -> bool:
        return bytes(tx_hash) in self._offering

    def claim(self, tx_hash: bytes) -> None:
        """A peer handed us a transaction we are offering: our copy must survive the offer."""
        if self.is_offering(tx_hash):
            self._claimed.add(bytes(tx_hash))

    @contextlib.contextmanager
    def offer(self, hashes: Iterable[bytes]) -> Iterator[set[bytes]]:
        """Mark `hashes` as in flight; yields the set that ends up holding those claimed meanwhile."""
        hashes = [bytes(h) for h in hashes]
        claimed: set[bytes] = set()
        for tx_hash in hashes:
            self._offering[tx_hash] = self._offering.get(tx_hash, 0) + 1
        try:
            yield claimed
        finally:
            for tx_hash in hashes:
                left = self._offering.pop(tx_hash) - 1
                if left:
                    self._offering[tx_hash] = left
                if tx_hash in self._claimed:
                    claimed.add(tx_hash)
                    if not left:
                        self._claimed.discard(tx_hash)

    def notify(self, tx_hash: bytes) -> None:
        for listener in list(self.listeners):
            try:
                listener(tx_hash)
            except Exception:
                log.exception("handoff listener failed")


# ----- receiving side -----


def _validate(body: Any) -> tuple[str, str, list[bytes]]:
    if not isinstance(body, dict):
        raise HandoffRejected("handoff body must be a JSON object")
    missing = [key for key in ("from", "handoff", "transactions") if key not in body]
    if missing:
        raise HandoffRejected(f"handoff body lacks {', '.join(missing)}")
    sender, handoff_id, transactions = body["from"], body["handoff"], body["transactions"]
    if not isinstance(sender, str) or not is_hex_address(sender):
        raise HandoffRejected("'from' must be a 0x-prefixed 20-byte address")
    if not isinstance(handoff_id, str) or not 0 < len(handoff_id) <= MAX_HANDOFF_ID_LENGTH:
        raise HandoffRejected(f"'handoff' must be a string of 1 to {MAX_HANDOFF_ID_LENGTH} characters")
    if not isinstance(transactions, list):
        raise HandoffRejected("'transactions' must be a list of 0x-prefixed hex strings")
    if len(transactions) > MAX_HANDOFF_TRANSACTIONS:
        raise HandoffRejected(
            f"too many transactions: {len(transactions)} in one handoff, limit {MAX_HANDOFF_TRANSACTIONS}"
        )
    raws: list[bytes] = []
    total = 0
    for index, item in enumerate(transactions):
        if not isinstance(item, str) or not item.startswith("0x") or len(item) <= 2:
            raise HandoffRejected(f"transactions[{index}] must be a non-empty 0x-prefixed hex string")
        total += (len(item) - 2) // 2
        if total > MAX_HANDOFF_BYTES:
            raise HandoffRejected(f"handoff too large: more than {MAX_HANDOFF_BYTES} bytes of transactions")
        try:
            raws.append(bytes.fromhex(item[2:]))
        except ValueError as exc:
            raise HandoffRejected(f"transactions[{index}] is not hex: {exc}") from exc
    return sender, handoff_id, raws


def _take(pool: TxPool, raw: bytes, sender: str, origins: HandoffOrigins) -> str:
    try:
        tx_hash = pool.add(raw)
    except InvalidTransaction as exc:
        message = str(exc)
        if message.startswith("already known"):
            tx_hash = raw_hash(raw)
            if pool.get(tx_hash) is not None:  # in our pool (not only in a block): we hold it for them
                origins.remember(tx_hash, sender)
                origins.claim(tx_hash)
            return KNOWN
        if message.startswith("nonce too low"):
            return INCLUDED
        return f"{REJECTED}: {message}"
    origins.remember(tx_hash, sender)
    origins.notify(tx_hash)
    return HELD


async def receive_handoff(pool: TxPool, body: Any, origins: HandoffOrigins) -> dict[str, Any]:
    """Take a handoff body into `pool`; the answer per transaction hash. Raises HandoffRejected.

    The transactions are held whether or not this node leads: the node's own MempoolHandoff
    passes them on to the leader it knows, but never back to `from`.
    """
    sender, handoff_id, raws = _validate(body)
    results: dict[str, str] = {}
    for index, raw in enumerate(raws):
        if index and index % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # yield to the event loop; not a wait
        key = _hex(raw_hash(raw))
        if key not in results:  # a repeated transaction keeps its first answer
            results[key] = _take(pool, raw, sender, origins)
    held = sum(1 for r in results.values() if r == HELD)
    log.info("handoff %s from %s: %d transactions, %d new here", handoff_id, sender, len(results), held)
    return {"results": results}


def make_handoff_handler(
    pool: TxPool | None, origins: HandoffOrigins
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler for POST /p2p/handoff (400 with {"error": ...} for a malformed body)."""

    async def handle(request: web.Request) -> web.Response:
        if pool is None:
            return web.json_response({"error": "this node keeps no mempool"}, status=404)
        try:
            body = loads_bounded(await request.read())
        except ValueError as exc:
            return web.json_response({"error": f"handoff body is not valid JSON: {exc}"}, status=400)
        try:
            return web.json_response(await receive_handoff(pool, body, origins))
        except HandoffRejected as exc:
            return web.json_response({"error": str(exc)}, status=400)

    return handle


# ----- sending side -----


@dataclass(frozen=True)
class LeaderView:
    handoff_id: str
    address: str | None
    url: str | None
    is_self: bool


def default_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=POST_TIMEOUT)


class MempoolHandoff:
    """Moves the pool to the leader while this node does not lead; see the module docstring."""

    chunk_transactions = MAX_CHUNK_TRANSACTIONS
    chunk_bytes = MAX_HANDOFF_BYTES

    def __init__(
        self,
        pool: TxPool,
        own_address: str,
        own_url: str,
        session_factory: SessionFactory = default_session,
        *,
        origins: HandoffOrigins | None = None,
    ) -> None:
        self.pool = pool
        self.own_address = own_address
        self.own_url = own_url.rstrip("/")
        self.origins = origins if origins is not None else HandoffOrigins()
        self.origins.listeners.append(self._on_arrival)
        self._session_factory = session_factory
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._view: LeaderView | None = None
        self._sent = _BoundedSet(ORIGINS_KEPT)  # confirmed under the current handoff id
        self._wake = asyncio.Event()
        self._view_changed = asyncio.Event()
        self._idle = asyncio.Event()
        self._backoff = BACKOFF_FIRST
        self._logged_error: str | None = None
        self.forwarded = 0  # confirmed by a leader and removed from our pool
        self.dropped = 0  # refused by a leader as invalid, removed from our pool
        self.posts = 0
        self.failures = 0
        self.last_error: str | None = None
        self.rejections: OrderedDict[str, str] = OrderedDict()  # tx hash -> the leader's reason

    # ----- what the node calls -----
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="mempool-handoff")

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.origins.listeners.remove(self._on_arrival)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def note_leader(
        self, handoff_id: str, leader_address: str | None, leader_url: str | None, is_self: bool
    ) -> None:
        """The node's view of the leader; calling again with the same view only wakes the task."""
        url = leader_url.rstrip("/") if leader_url else None
        is_self = (
            is_self
            or (leader_address is not None and leader_address.lower() == self.own_address.lower())
            or url == self.own_url
        )
        view = LeaderView(handoff_id, leader_address, url, is_self)
        if view != self._view:
            if self._view is None or view.handoff_id != self._view.handoff_id:
                self._sent.clear()
            self._view = view
            self._backoff = BACKOFF_FIRST
            self._view_changed.set()
        self.poke()

    def poke(self) -> None:
        """Look at the pool now (the node may call this when its pool gained transactions)."""
        self._idle.clear()
        self._wake.set()

    # ----- status -----
    @property
    def leading(self) -> bool:
        return self._view is not None and self._view.is_self

    @property
    def pending(self) -> int:
        """Transactions in our pool that no leader has confirmed (0 while we lead)."""
        return 0 if self.leading else len(self.pool)

    @property
    def held_back(self) -> int:
        """Pool transactions the loop guard keeps from the current leader."""
        if self._view is None or self._view.is_self:
            return 0
        return len(self.pool) - len(self._due(self._view))

    def describe(self) -> dict[str, Any]:
        view = self._view
        return {
            "handoff": view.handoff_id if view else None,
            "leader": view.address if view else None,
            "leaderUrl": view.url if view else None,
            "leading": self.leading,
            "forwarded": self.forwarded,
            "pending": self.pending,
            "heldBack": self.held_back,
            "dropped": self.dropped,
            "posts": self.posts,
            "failures": self.failures,
            "lastError": self.last_error,
            "recentRejections": dict(self.rejections),
        }

    async def wait_idle(self) -> None:
        """Until the task has looked at the pool since the last poke and found nothing to send."""
        await self._idle.wait()

    # ----- the task -----
    def _on_arrival(self, _tx_hash: bytes) -> None:
        self.poke()

    def _due(self, view: LeaderView | None) -> list[PoolEntry]:
        if view is None or view.is_self or not view.url:
            return []
        return [
            entry
            for entries in self.pool.content().values()
            for entry in entries
            if entry.hash not in self._sent and not self.origins.came_from(entry.hash, view.address)
        ]

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            view = self._view
            try:
                due = self._due(view)
                if not due:
                    self._idle.set()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), IDLE_RECHECK_SECONDS)
                    continue
                self._idle.clear()
                assert view is not None
                delivered = await self._hand(view, due)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not end the handoff for good
                log.exception("mempool handoff failed")
                delivered = self._failed(f"internal error: {exc!r}")
            if delivered:
                self._backoff = BACKOFF_FIRST
                self._logged_error = None
            else:
                await self._back_off(view)

    async def _back_off(self, view: LeaderView | None) -> None:
        self._view_changed.clear()
        if self._view != view:
            return  # a new leader: try it at once
        delay, self._backoff = self._backoff, min(self._backoff * 2, BACKOFF_MAX)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._view_changed.wait(), delay)

    def _chunks(self, entries: list[PoolEntry]) -> Iterator[list[PoolEntry]]:
        chunk: list[PoolEntry] = []
        size = 0
        for entry in entries:
            if chunk and (len(chunk) >= self.chunk_transactions or size + len(entry.raw) > self.chunk_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(entry)
            size += len(entry.raw)
        if chunk:
            yield chunk

    async def _hand(self, view: LeaderView, entries: list[PoolEntry]) -> bool:
        for chunk in self._chunks(entries):
            if not await self._post(view, chunk):
                return False
        return True

    async def _post(self, view: LeaderView, chunk: list[PoolEntry]) -> bool:
        assert view.url is not None
        url = view.url + HANDOFF_PATH
        body = {"from": self.own_address, "handoff": view.handoff_id, "transactions": [_hex(e.raw) for e in chunk]}
        if self._session is None:
            self._session = self._session_factory()
        self.posts += 1
        reply: Any = None
        error: str | None = None
        with self.origins.offer(entry.hash for entry in chunk) as claimed:
            try:
                peer_links.check(url)
                async with self._session.post(url, json=body) as response:
                    if response.status != 200:
                        error = f"{url}: HTTP {response.status}: {(await response.text())[:300]}"
                    else:
                        reply = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                error = f"{url}: {type(exc).__name__}: {exc}"
        if error is not None:
            return self._failed(f"cannot hand {len(chunk)} transactions to the leader yet: {error}")
        return self._settle(view, chunk, reply, claimed)

    def _settle(self, view: LeaderView, chunk: list[PoolEntry], reply: Any, claimed: set[bytes]) -> bool:
        results = reply.get("results") if isinstance(reply, dict) else None
        if not isinstance(results, dict):
            return self._failed(f"{view.url}: malformed handoff answer: {str(reply)[:200]}")
        still_current = self._view is not None and self._view.handoff_id == view.handoff_id
        complete = True
        for entry in chunk:
            key = _hex(raw_hash(entry.raw))
            status = results.get(key)
            if status in CONFIRMED:
                if still_current:
                    self._sent.add(entry.hash)
                if entry.hash in claimed:
                    continue  # the leader handed it to us meanwhile: ours is the copy that stays
                self.pool.drop(entry.hash)
                self.forwarded += 1
            elif isinstance(status, str) and status.startswith(REJECTED):
                reason = status.partition(":")[2].strip() or status
                if reason.startswith(TRANSIENT_REFUSALS):
                    complete = self._failed(f"{view.url} cannot take {key} yet: {reason}")
                    continue
                log.warning("leader %s refused handed-off tx %s, dropping it: %s", view.address, key, reason)
                self.pool.drop(entry.hash)
                self.dropped += 1
                self.last_error = f"{key} refused by {view.address}: {reason}"
                self.rejections[key] = reason
                while len(self.rejections) > REJECTIONS_KEPT:
                    self.rejections.popitem(last=False)
            else:
                complete = self._failed(f"{view.url}: no valid answer for {key}: {status!r}")
        return complete

    def _failed(self, message: str) -> bool:
        self.failures += 1
        self.last_error = message
        if message != self._logged_error:
            log.warning("%s", message)
            self._logged_error = message
        return False
