"""Every request is answered within its time budget: the JSON-RPC server (real aiohttp HTTP on
loopback) and the EVM deadline that stops a call's worker thread (real py-evm)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from toolkit.l2.call_deadline import CallTimedOut, deadline
from toolkit.l2.calls import AccountOverride, CallRequest
from toolkit.rpc.offload import off_loop
from toolkit.rpc.server import JsonRpcServer
from toolkit.testing import new_state

SPINNER = "0x" + "5e" * 20
LOOP_FOREVER = bytes.fromhex("5b600056")  # JUMPDEST PUSH1 0 JUMP: spins until out of gas
SPIN = {SPINNER: AccountOverride(code=LOOP_FOREVER)}


async def _post(server: JsonRpcServer, body: Any) -> tuple[Any, float]:
    app = web.Application()
    server.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            async with session.post(f"http://127.0.0.1:{port}/", data=json.dumps(body)) as response:
                return await response.json(), time.monotonic() - started
    finally:
        await runner.cleanup()


def _server(budget: float) -> JsonRpcServer:
    async def slow(params: list[Any]) -> str:
        await asyncio.sleep(60)
        return "too late"

    async def fast(params: list[Any]) -> str:
        return "ok"

    async def peer_timeout(params: list[Any]) -> str:
        raise TimeoutError("a peer did not answer")  # the method's own timeout, not the budget

    return JsonRpcServer({"slow": slow, "fast": fast, "peer_timeout": peer_timeout}, time_budget=budget)


def _request(method: str, request_id: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": []}


def test_a_request_past_its_budget_is_answered_request_timed_out() -> None:
    reply, took = asyncio.run(_post(_server(0.5), _request("slow", 1)))
    assert reply == {"jsonrpc": "2.0", "id": 1, "error": {"code": -32002, "message": "request timed out"}}
    assert took < 10


def test_a_batch_shares_one_budget_and_every_item_is_answered() -> None:
    batch = [_request("fast", 1), _request("slow", 2), _request("fast", 3)]
    reply, took = asyncio.run(_post(_server(0.5), batch))
    assert [item.get("result", item.get("error")) for item in reply] == [
        "ok", {"code": -32002, "message": "request timed out"}, {"code": -32002, "message": "request timed out"},
    ]
    assert took < 10


def test_a_methods_own_timeout_is_not_reported_as_the_budget() -> None:
    reply, _ = asyncio.run(_post(_server(30), _request("peer_timeout", 1)))
    assert reply["error"]["code"] == -32603 and "a peer did not answer" in reply["error"]["message"]


def test_the_evm_stops_itself_at_the_deadline() -> None:
    executor = new_state().executor
    request = CallRequest(to=SPINNER, gas=50_000_000)
    started = time.monotonic()
    with pytest.raises(CallTimedOut, match=r"execution aborted \(timeout = 0.3s\)"), deadline(0.3):
        executor.call(request, executor.head, SPIN)
    assert time.monotonic() - started < 5
    # without a deadline (block building, derivation) the same classes are not in the way
    assert executor.call(CallRequest(to=SPINNER, gas=100_000), executor.head, {}) == b""


def test_off_loop_stops_at_the_requests_own_budget_and_frees_its_worker() -> None:
    executor = new_state().executor

    async def scenario() -> tuple[tuple[int, str], bytes]:
        from toolkit.rpc import budget
        from toolkit.rpc.errors import RpcError

        token = budget.start(0.3)  # as the server does for each request
        try:
            with pytest.raises(RpcError) as error:
                await off_loop(executor.call, CallRequest(to=SPINNER, gas=50_000_000), executor.head, SPIN)
        finally:
            budget.end(token)
        after = await asyncio.wait_for(off_loop(executor.call, CallRequest(to=SPINNER), executor.head, {}), 10)
        return (error.value.code, error.value.message), after

    started = time.monotonic()
    error, after = asyncio.run(scenario())
    assert error == (-32002, "request timed out") and after == b""  # 0.3 s of budget, less than the EVM's 5 s
    assert time.monotonic() - started < 5
