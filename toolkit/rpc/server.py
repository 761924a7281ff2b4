"""JSON-RPC 2.0 over HTTP (POST /) and WebSocket (GET / upgrade) on one aiohttp port.

Methods are plain async callables taking the params list. Subscriptions (eth_subscribe) are
WebSocket-only and fed from ChainEvents by a `SubscriptionFactory` the node supplies.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from toolkit.bounded_json import JsonTooDeep, loads_bounded
from toolkit.rpc import budget
from toolkit.rpc.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    LIMIT_EXCEEDED,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    invalid_params,
)

log = logging.getLogger(__name__)

Handler = Callable[[list[Any]], Awaitable[Any]]
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_BATCH_REQUESTS = 1000
MAX_SUBSCRIPTIONS_PER_CONNECTION = 100


class Subscription:
    """A live subscription: `start` begins pushing payloads through `send`; `stop` ends it."""

    def start(self, send: Callable[[Any], None]) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


SubscriptionFactory = Callable[[list[Any]], Subscription]


class JsonRpcServer:
    def __init__(
        self, methods: dict[str, Handler], subscriptions: SubscriptionFactory | None = None,
        time_budget: float = budget.REQUEST_TIME_BUDGET,
    ) -> None:
        self.methods = methods
        self.time_budget = time_budget  # seconds per request (HTTP body or WebSocket message)
        self.subscriptions = subscriptions
        self._subscription_ids = itertools.count(1)

    def add_routes(self, app: web.Application, path: str = "/") -> None:
        app.router.add_post(path, self._handle_http)
        app.router.add_get(path, self._handle_ws)

    # ----- transports -----
    async def _handle_http(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _json_response(_error_reply(None, RpcError(LIMIT_EXCEEDED, "request body too large")), 413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json_response(_error_reply(None, RpcError(LIMIT_EXCEEDED, "request body too large")), 413)
        reply = await self.handle_text(body, connection=None)
        if reply is None:
            return web.Response(status=204)
        return _json_response(reply)

    async def _handle_ws(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response({"status": "ok", "hint": "POST JSON-RPC here, or open a WebSocket"})
        socket = web.WebSocketResponse(max_msg_size=MAX_BODY_BYTES, heartbeat=30)
        await socket.prepare(request)
        connection = _WsConnection(socket)
        try:
            async for message in socket:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    text = message.data if isinstance(message.data, bytes) else message.data.encode()
                    reply = await self.handle_text(text, connection=connection)
                    if reply is not None:
                        await connection.send_json(reply)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            connection.close()
        return socket

    # ----- protocol -----
    async def handle_text(self, body: bytes, connection: _WsConnection | None) -> Any:
        """The reply to one HTTP body or WebSocket message, within one time budget (toolkit.rpc.budget)."""
        token = budget.start(self.time_budget)
        try:
            return await self._handle_payload(body, connection)
        finally:
            budget.end(token)

    async def _handle_payload(self, body: bytes, connection: _WsConnection | None) -> Any:
        try:
            payload = loads_bounded(body)  # json.loads could overflow the C stack and kill the process
        except JsonTooDeep as exc:
            return _error_reply(None, RpcError(INVALID_REQUEST, f"invalid request: {exc}"))
        except (ValueError, UnicodeDecodeError):
            return _error_reply(None, RpcError(PARSE_ERROR, "parse error: body is not valid JSON"))
        if isinstance(payload, list):
            if not payload:
                return _error_reply(None, RpcError(INVALID_REQUEST, "empty batch"))
            if len(payload) > MAX_BATCH_REQUESTS:
                return _error_reply(None, RpcError(LIMIT_EXCEEDED, f"batch too large: {len(payload)} requests, "
                                                                    f"limit {MAX_BATCH_REQUESTS}"))
            replies = [await self._handle_one(item, connection) for item in payload]
            replies = [reply for reply in replies if reply is not None]
            return replies or None
        return await self._handle_one(payload, connection)

    async def _handle_one(self, request: Any, connection: _WsConnection | None) -> dict[str, Any] | None:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error_reply(None, RpcError(INVALID_REQUEST, "invalid request"))
        request_id = request.get("id")
        is_notification = "id" not in request
        if not _valid_id(request_id):
            return _error_reply(None, RpcError(INVALID_REQUEST, "invalid request: id must be a string, number or null"))
        method = request["method"]
        params = request.get("params", [])
        if params is None:
            params = []
        try:
            if not isinstance(params, list):
                raise invalid_params("params must be an array")
            left = budget.remaining()
            if left is not None and left <= 0:
                raise RpcError(budget.REQUEST_TIMED_OUT, "request timed out")
            scope = asyncio.timeout(left)
            try:
                async with scope:
                    result = await self._call(method, params, connection)
            except TimeoutError as exc:
                if not scope.expired():
                    raise  # a timeout of the method's own (a peer that did not answer), not the budget
                log.warning("%s did not finish within the request's time budget: abandoned", method)
                raise RpcError(budget.REQUEST_TIMED_OUT, "request timed out") from exc
        except RpcError as error:
            return None if is_notification else _error_reply(request_id, error)
        except Exception as exc:  # a bug of ours must not take the server down
            log.exception("internal error in %s", method)
            return None if is_notification else _error_reply(request_id, RpcError(INTERNAL_ERROR, f"internal error: {exc}"))
        if is_notification:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _call(self, method: str, params: list[Any], connection: _WsConnection | None) -> Any:
        if method in ("eth_subscribe", "eth_unsubscribe"):
            if connection is None or self.subscriptions is None:
                raise RpcError(METHOD_NOT_FOUND, "notifications not supported: use a WebSocket connection")
            if method == "eth_subscribe":
                if len(connection.subscriptions) >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
                    raise RpcError(LIMIT_EXCEEDED, f"too many subscriptions on this connection: limit "
                                                   f"{MAX_SUBSCRIPTIONS_PER_CONNECTION}")
                subscription = self.subscriptions(params)
                subscription_id = hex(next(self._subscription_ids) * 0x1000003 + id(connection) % 0xFFFF)
                connection.subscribe(subscription_id, subscription)
                return subscription_id
            if len(params) != 1 or not isinstance(params[0], str):
                raise invalid_params("expected [subscriptionId]")
            return connection.unsubscribe(params[0])
        handler = self.methods.get(method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available")
        return await handler(params)


class _WsConnection:
    def __init__(self, socket: web.WebSocketResponse) -> None:
        self.socket = socket
        self.subscriptions: dict[str, Subscription] = {}
        self._outbox: asyncio.Queue[Any] = asyncio.Queue()
        self._writer = asyncio.ensure_future(self._write_loop())

    async def _write_loop(self) -> None:
        while True:
            message = await self._outbox.get()
            if self.socket.closed:
                return
            try:
                await self.socket.send_str(json.dumps(message))
            except ConnectionError:
                return

    async def send_json(self, message: Any) -> None:
        self._outbox.put_nowait(message)

    def subscribe(self, subscription_id: str, subscription: Subscription) -> None:
        def push(result: Any) -> None:
            self._outbox.put_nowait(
                {
                    "jsonrpc": "2.0",
                    "method": "eth_subscription",
                    "params": {"subscription": subscription_id, "result": result},
                }
            )

        self.subscriptions[subscription_id] = subscription
        subscription.start(push)

    def unsubscribe(self, subscription_id: str) -> bool:
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is None:
            return False
        subscription.stop()
        return True

    def close(self) -> None:
        for subscription in self.subscriptions.values():
            subscription.stop()
        self.subscriptions.clear()
        self._writer.cancel()


def _valid_id(request_id: Any) -> bool:
    """JSON-RPC 2.0 ids: a string, a finite number or null (what the reply can echo as valid JSON)."""
    if request_id is None or isinstance(request_id, str):
        return True
    if isinstance(request_id, bool) or not isinstance(request_id, int | float):
        return False
    return not isinstance(request_id, float) or math.isfinite(request_id)


def _error_reply(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(payload), status=status, content_type="application/json")
