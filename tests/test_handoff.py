"""Mempool handoff between sequencers: real aiohttp servers on loopback, real pools over py-evm."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import toolkit.l2.txpool
import toolkit.sequencer.handoff as handoff_module
from devnet.supervisor import free_port
from toolkit.bounded_json import loads_bounded
from toolkit.l2.executor import BlockAttributes, L2Executor
from toolkit.l2.txpool import TxPool
from toolkit.rpc.server import MAX_BODY_BYTES
from toolkit.sequencer.handoff import (
    HANDOFF_PATH,
    MAX_HANDOFF_TRANSACTIONS,
    HandoffOrigins,
    HandoffRejected,
    MempoolHandoff,
    make_handoff_handler,
    raw_hash,
    receive_handoff,
)
from toolkit.testing import chain_config, transfer

HOST = "127.0.0.1"
ADDRESS_A = "0x" + "aa" * 20
ADDRESS_B = "0x" + "bb" * 20
ADDRESS_C = "0x" + "cc" * 20
SCENARIO_SECONDS = 60.0


def hexed(raw: bytes) -> str:
    return "0x" + raw.hex()


class Peer:
    """One sequencer as far as handoffs go: a pool, a /p2p/handoff server and a MempoolHandoff."""

    def __init__(self, address: str, balance: int = 10**22) -> None:
        self.address = address
        self.executor = L2Executor(chain_config(balance))
        self.pool = TxPool(self.executor)
        self.origins = HandoffOrigins()
        self.received: list[Any] = []  # every body POSTed to us, in order
        self.arrived = asyncio.Event()
        self.gate: asyncio.Event | None = None  # when set, requests wait for it before being handled
        self.url = ""
        self.handoff: MempoolHandoff | None = None
        self._runner: web.AppRunner | None = None

    async def serve(self, port: int = 0) -> None:
        handler = make_handoff_handler(self.pool, self.origins)

        async def recording(request: web.Request) -> web.Response:
            try:
                self.received.append(loads_bounded(await request.read()))
            except ValueError:
                self.received.append(None)
            self.arrived.set()
            if self.gate is not None:
                await self.gate.wait()
            return await handler(request)

        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(HANDOFF_PATH, recording)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, port)
        await site.start()
        self.url = f"http://{HOST}:{self._runner.addresses[0][1]}"

    def start_handoff(self) -> MempoolHandoff:
        self.handoff = MempoolHandoff(self.pool, self.address, self.url, origins=self.origins)
        self.handoff.start()
        return self.handoff

    def sent_to_us(self) -> list[str]:
        return [tx for body in self.received if isinstance(body, dict) for tx in body["transactions"]]

    async def close(self) -> None:
        if self.handoff is not None:
            await self.handoff.close()
        if self._runner is not None:
            await self._runner.cleanup()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), SCENARIO_SECONDS))


async def until(condition: Callable[[], Any], what: str, within: float = 20.0) -> None:
    """Poll `condition` until it holds, failing with `what` after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)


async def settled(*handoffs: MempoolHandoff) -> None:
    """Wake each handoff task and wait until it has looked at its pool and found nothing to send."""
    for handoff in handoffs:
        handoff.poke()
    await asyncio.wait_for(asyncio.gather(*(h.wait_idle() for h in handoffs)), 10)


# ----- (a) a follower's pool moves to the leader, leaving only once the leader confirmed -----


def test_pool_moves_to_the_leader_and_leaves_only_once_confirmed() -> None:
    async def scenario() -> None:
        a, b = Peer(ADDRESS_A), Peer(ADDRESS_B)
        try:
            await a.serve()
            await b.serve()
            raws = [transfer(0, n) for n in range(3)] + [transfer(1, 0), transfer(1, 2)]  # 1:2 waits for 1:1
            hashes = [a.pool.add(raw) for raw in raws]
            b.gate = asyncio.Event()
            handoff_a, handoff_b = a.start_handoff(), b.start_handoff()
            handoff_b.note_leader("7:B", ADDRESS_B, b.url, is_self=True)
            handoff_a.note_leader("7:B", ADDRESS_B, b.url, is_self=False)
            await asyncio.wait_for(b.arrived.wait(), 10)
            # The POST reached B but B has not answered: A still holds every transaction.
            assert len(a.pool) == 5 and handoff_a.pending == 5 and handoff_a.forwarded == 0
            b.gate.set()
            await until(lambda: len(a.pool) == 0, "A's pool to empty")
            assert all(b.pool.get(h) is not None for h in hashes)
            assert handoff_a.forwarded == 5 and handoff_a.pending == 0 and handoff_a.last_error is None
            assert b.received == [{"from": ADDRESS_A, "handoff": "7:B", "transactions": [hexed(r) for r in raws]}]
            assert all(b.origins.origins_of(h) == {ADDRESS_A} for h in hashes)
            # The leader keeps what it holds.
            await settled(handoff_b)
            assert handoff_b.posts == 0 and handoff_b.describe()["leading"] is True

            # More than a chunk: one POST per chunk, in nonce order.
            handoff_a.chunk_transactions = 2
            more = [transfer(2, n) for n in range(5)]
            for raw in more:
                a.pool.add(raw)
            handoff_a.poke()
            await until(lambda: len(a.pool) == 0, "the second handoff")
            assert [body["transactions"] for body in b.received[1:]] == [
                [hexed(r) for r in more[0:2]], [hexed(r) for r in more[2:4]], [hexed(more[4])],
            ]
            status = handoff_a.describe()
            assert status["forwarded"] == 10 and status["posts"] == 4 and status["failures"] == 0
            assert status["handoff"] == "7:B" and status["leader"] == ADDRESS_B and status["pending"] == 0
        finally:
            await a.close()
            await b.close()

    run(scenario)


# ----- (b) the leader cannot be reached: keep everything, retry, deliver when it comes up -----


def test_unreachable_leader_keeps_every_transaction_and_gets_them_once_up() -> None:
    async def scenario() -> None:
        a, b = Peer(ADDRESS_A), Peer(ADDRESS_B)
        try:
            await a.serve()
            b_port = free_port(HOST)
            b_url = f"http://{HOST}:{b_port}"
            raws = [transfer(0, n) for n in range(4)]
            hashes = [a.pool.add(raw) for raw in raws]
            handoff_a = a.start_handoff()
            handoff_a.note_leader("3:B", ADDRESS_B, b_url, is_self=False)
            await until(lambda: handoff_a.failures >= 3, "three failed attempts")
            assert len(a.pool) == 4 and handoff_a.pending == 4 and handoff_a.forwarded == 0
            assert "ClientConnectorError" in (handoff_a.last_error or "")
            await b.serve(port=b_port)
            await until(lambda: len(a.pool) == 0, "delivery once B is up")
            assert all(b.pool.get(h) is not None for h in hashes)
            assert len(b.received) == 1 and handoff_a.forwarded == 4
        finally:
            await a.close()
            await b.close()

    run(scenario)


def test_a_full_leader_pool_is_retried_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        a, b = Peer(ADDRESS_A), Peer(ADDRESS_B)
        try:
            await a.serve()
            await b.serve()
            hashes = [a.pool.add(transfer(0, n)) for n in range(2)]
            monkeypatch.setattr(toolkit.l2.txpool, "MAX_POOL_TRANSACTIONS", 0)
            handoff_a = a.start_handoff()
            handoff_a.note_leader("4:B", ADDRESS_B, b.url, is_self=False)
            await until(lambda: len(b.received) >= 2, "a retry after 'txpool is full'")
            assert len(a.pool) == 2 and handoff_a.dropped == 0 and "txpool is full" in (handoff_a.last_error or "")
            monkeypatch.undo()
            await until(lambda: len(a.pool) == 0, "delivery once B has room")
            assert all(b.pool.get(h) is not None for h in hashes)
        finally:
            await a.close()
            await b.close()

    run(scenario)


def test_a_new_leader_is_tried_at_once_whatever_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handoff_module, "BACKOFF_FIRST", 30.0)  # only a leader change can end this wait

    async def scenario() -> None:
        a, c = Peer(ADDRESS_A), Peer(ADDRESS_C)
        try:
            await a.serve()
            await c.serve()
            tx_hash = a.pool.add(transfer(0, 0))
            handoff_a = a.start_handoff()
            handoff_a.note_leader("5:B", ADDRESS_B, f"http://{HOST}:{free_port(HOST)}", is_self=False)
            await until(lambda: handoff_a.failures >= 1, "the first failure")
            handoff_a.note_leader("5:C", ADDRESS_C, c.url, is_self=False)
            await until(lambda: len(a.pool) == 0, "delivery to the new leader", within=10)
            assert c.pool.get(tx_hash) is not None and handoff_a.failures == 1
        finally:
            await a.close()
            await c.close()

    run(scenario)


# ----- (c) two nodes that each think the other leads -----


@pytest.mark.parametrize("timing", ["at-the-same-time", "one-after-the-other"])
def test_disagreeing_nodes_do_not_bounce_transactions(timing: str) -> None:
    async def scenario() -> None:
        a, b = Peer(ADDRESS_A), Peer(ADDRESS_B)
        try:
            await a.serve()
            await b.serve()
            a_only = [transfer(0, n) for n in range(3)]
            b_only = [transfer(1, n) for n in range(3)]
            shared = transfer(2, 0)  # e.g. a client sent it to both
            for raw in [*a_only, shared]:
                a.pool.add(raw)
            for raw in [*b_only, shared]:
                b.pool.add(raw)
            if timing == "at-the-same-time":  # both offers in flight before either is handled
                a.gate, b.gate = asyncio.Event(), asyncio.Event()
            handoff_a, handoff_b = a.start_handoff(), b.start_handoff()
            handoff_a.note_leader("9:B", ADDRESS_B, b.url, is_self=False)
            if timing == "one-after-the-other":
                await until(lambda: len(a.pool) == 0, "A's handoff to B")
            handoff_b.note_leader("9:A", ADDRESS_A, a.url, is_self=False)
            if a.gate is not None and b.gate is not None:
                await asyncio.wait_for(asyncio.gather(a.arrived.wait(), b.arrived.wait()), 10)
                a.gate.set()
                b.gate.set()
            await until(lambda: handoff_a.posts == 1 and handoff_b.posts == 1 and not any(
                h.origins.is_offering(raw_hash(shared)) for h in (handoff_a, handoff_b)), "both handoffs")
            await settled(handoff_a, handoff_b)
            # The node keeps calling note_leader with the same view: still nothing moves.
            handoff_a.note_leader("9:B", ADDRESS_B, b.url, is_self=False)
            handoff_b.note_leader("9:A", ADDRESS_A, a.url, is_self=False)
            await settled(handoff_a, handoff_b)

            assert len(a.received) == 1 and len(b.received) == 1, "one POST each way, no ping-pong"
            to_a, to_b = a.sent_to_us(), b.sent_to_us()
            for raw in a_only:
                assert (to_b.count(hexed(raw)), to_a.count(hexed(raw))) == (1, 0)
                assert b.pool.get(raw_hash(raw)) is not None and a.pool.get(raw_hash(raw)) is None
            for raw in b_only:
                assert (to_a.count(hexed(raw)), to_b.count(hexed(raw))) == (1, 0)
                assert a.pool.get(raw_hash(raw)) is not None and b.pool.get(raw_hash(raw)) is None
            assert to_a.count(hexed(shared)) <= 1 and to_b.count(hexed(shared)) <= 1
            holders = [p.address for p in (a, b) if p.pool.get(raw_hash(shared)) is not None]
            if timing == "at-the-same-time":
                assert holders == [ADDRESS_A, ADDRESS_B], "each saw the other's copy while offering its own"
            else:
                assert holders == [ADDRESS_B], "B held it for A; it never went back"
            # What each holds for the other is held back, visibly.
            assert handoff_a.describe()["heldBack"] == len(a.pool) == 3 + holders.count(ADDRESS_A)
            assert handoff_b.describe()["heldBack"] == len(b.pool) == 3 + holders.count(ADDRESS_B)
        finally:
            await a.close()
            await b.close()

    run(scenario)


def test_three_nodes_in_a_circle_forward_each_transaction_once_per_handoff() -> None:
    """A thinks B leads, B thinks C, C thinks A: the origin rule alone would let A send it round again."""

    async def scenario() -> None:
        a, b, c = Peer(ADDRESS_A), Peer(ADDRESS_B), Peer(ADDRESS_C)
        peers = (a, b, c)
        try:
            for peer in peers:
                await peer.serve()
            raws = [transfer(0, n) for n in range(2)]
            for raw in raws:
                a.pool.add(raw)
            handoffs = [peer.start_handoff() for peer in peers]
            for handoff, leader in zip(handoffs, (b, c, a), strict=True):
                handoff.note_leader("6:" + leader.address, leader.address, leader.url, is_self=False)
            await until(lambda: len(a.received) == 1, "the transactions to come round to A")
            await until(lambda: not any(h.origins.is_offering(raw_hash(raws[0])) for h in handoffs), "the last answer")
            await settled(*handoffs)
            assert [len(p.received) for p in peers] == [1, 1, 1], "once round the circle, no further"
            assert [len(p.pool) for p in peers] == [2, 0, 0]
            assert handoffs[0].describe()["heldBack"] == 2
            # A new view at A (a new handoff id) may send them on again, once.
            handoffs[0].note_leader("7:" + ADDRESS_B, ADDRESS_B, b.url, is_self=False)
            await until(lambda: len(b.received) == 2 and len(a.pool) == 0, "the next handoff's single forward")
        finally:
            for peer in peers:
                await peer.close()

    run(scenario)


# ----- (d) malformed bodies -----


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "handoff body is not valid JSON"),
        (b"[" * 100_000, "nested deeper than 128 levels"),
        (b"[]", "handoff body must be a JSON object"),
        (b"{}", "handoff body lacks from, handoff, transactions"),
        ({"from": "0x1234", "handoff": "1:B", "transactions": []}, "'from' must be a 0x-prefixed 20-byte address"),
        ({"from": ADDRESS_A, "handoff": 5, "transactions": []}, "'handoff' must be a string of 1 to 200"),
        ({"from": ADDRESS_A, "handoff": "", "transactions": []}, "'handoff' must be a string of 1 to 200"),
        ({"from": ADDRESS_A, "handoff": "1:B", "transactions": "0x01"}, "'transactions' must be a list"),
        ({"from": ADDRESS_A, "handoff": "1:B", "transactions": [1]}, "transactions[0] must be a non-empty 0x"),
        ({"from": ADDRESS_A, "handoff": "1:B", "transactions": ["0x"]}, "transactions[0] must be a non-empty 0x"),
        ({"from": ADDRESS_A, "handoff": "1:B", "transactions": ["0x01", "0xzz"]}, "transactions[1] is not hex"),
        ({"from": ADDRESS_A, "handoff": "1:B", "transactions": ["0x01"] * (MAX_HANDOFF_TRANSACTIONS + 1)},
         "too many transactions: 2001 in one handoff, limit 2000"),
        ({"from": ADDRESS_A, "handoff": "1:B", "transactions": ["0x" + "00" * 128 * 1024] * 17},
         "handoff too large: more than 2097152 bytes"),
    ],
)
def test_malformed_handoffs_are_refused_with_a_clear_error(body: Any, error: str) -> None:
    async def scenario() -> None:
        b = Peer(ADDRESS_B)
        try:
            await b.serve()
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            async with aiohttp.ClientSession() as session, session.post(b.url + HANDOFF_PATH, data=data) as reply:
                assert reply.status == 400
                assert error in (await reply.json())["error"]
            assert len(b.pool) == 0
        finally:
            await b.close()

    run(scenario)


def test_receive_handoff_raises_handoff_rejected_and_answers_per_transaction() -> None:
    async def scenario() -> None:
        pool = TxPool(L2Executor(chain_config()))
        origins = HandoffOrigins()
        with pytest.raises(HandoffRejected, match="lacks transactions"):
            await receive_handoff(pool, {"from": ADDRESS_A, "handoff": "1:B"}, origins)
        good, garbage = transfer(0, 0), bytes.fromhex("1234")
        wrong_chain = transfer(1, 0, chain_id=5)
        body = {"from": ADDRESS_A, "handoff": "1:B", "transactions": [hexed(r) for r in (good, garbage, good, wrong_chain)]}
        results = (await receive_handoff(pool, body, origins))["results"]
        assert results[hexed(raw_hash(good))] == "held"  # the repeat keeps its first answer
        assert results[hexed(raw_hash(garbage))].startswith("rejected: transaction type not supported")
        assert results[hexed(raw_hash(wrong_chain))].startswith("rejected: invalid chain id")
        assert len(results) == 3 and len(pool) == 1 and origins.origins_of(raw_hash(good)) == {ADDRESS_A}

    run(scenario)


def test_a_node_without_a_mempool_answers_404() -> None:
    async def scenario() -> None:
        app = web.Application()
        app.router.add_post(HANDOFF_PATH, make_handoff_handler(None, HandoffOrigins()))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, 0).start()
        try:
            url = f"http://{HOST}:{runner.addresses[0][1]}{HANDOFF_PATH}"
            async with aiohttp.ClientSession() as session, session.post(url, json={}) as reply:
                assert reply.status == 404 and (await reply.json())["error"] == "this node keeps no mempool"
        finally:
            await runner.cleanup()

    run(scenario)


# ----- (e) the leader refuses a transaction, or it is already in the leader's chain -----


def test_refused_transactions_are_dropped_with_the_reason() -> None:
    async def scenario() -> None:
        a = Peer(ADDRESS_A, balance=10**22)
        b = Peer(ADDRESS_B, balance=10**18)  # B's state cannot pay for A's big transfer
        try:
            await a.serve()
            await b.serve()
            # B's chain already used sender 1's nonce 0 (another transaction).
            attributes = BlockAttributes(timestamp=1_700_000_005, l1_origin_number=3, l1_origin_hash=b"\x33" * 32)
            b.executor.append(b.executor.execute_block(b.executor.head, attributes, [transfer(1, 0, value=2)], strict=True))
            too_big, used_nonce, fine = transfer(0, 0, value=5 * 10**18), transfer(1, 0, value=1), transfer(2, 0)
            for raw in (too_big, used_nonce, fine):
                a.pool.add(raw)
            handoff_a = a.start_handoff()
            handoff_a.note_leader("2:B", ADDRESS_B, b.url, is_self=False)
            await until(lambda: len(a.pool) == 0, "A to settle every transaction")
            key = hexed(raw_hash(too_big))
            assert handoff_a.dropped == 1 and handoff_a.forwarded == 2
            assert handoff_a.rejections[key].startswith("insufficient funds for gas * price + value")
            assert handoff_a.last_error == f"{key} refused by {ADDRESS_B}: {handoff_a.rejections[key]}"
            assert handoff_a.describe()["recentRejections"] == {key: handoff_a.rejections[key]}
            assert b.pool.get(raw_hash(fine)) is not None and len(b.pool) == 1
            assert len(b.received) == 1, "a refusal is final: no retry"
        finally:
            await a.close()
            await b.close()

    run(scenario)
