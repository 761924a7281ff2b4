"""One stable RPC URL per L2 chain, in front of every node of the chain; handoffs happen behind it.

- Writes (a request with method eth_sendRawTransaction, or a batch holding one) go to the leader
  L1 names; if the leader cannot be reached, to any other healthy node (which forwards to the
  leader it knows). The body is parsed, not searched: a method name inside params is no write.
  A body that is not JSON gets -32700 and one that is not a request object or batch gets -32600,
  both from the gateway itself without contacting a node.
  If no node takes it, the client gets an error: a transaction is never silently dropped.
- Every transaction the gateway accepted is kept until a healthy node has its receipt; if it has
  none after RESEND_AFTER seconds (its leader died, or lost the lead with the tx in its mempool),
  the gateway sends it again to the current leader. "already known" / "nonce too low" end that.
- Reads go to the leader when it is healthy (freshest unsafe head and pending nonces), else to
  any healthy node.
- WebSocket: each client connection is relayed to one backend node. When that node goes away the
  gateway connects to another and re-creates the client's subscriptions under the ids the client
  already holds.

    python -m toolkit.gateway --config gateway.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from toolkit.bounded_json import JsonTooDeep, loads_bounded
from toolkit.l1.client import L1Client
from toolkit.l1_traversal import L1Traversal
from toolkit.modes import mode_named
from toolkit.node.config import ADMIN_PATH
from toolkit.rpc.cors import cors_middleware
from toolkit.rpc.errors import INVALID_PARAMS, INVALID_REQUEST, LIMIT_EXCEEDED, PARSE_ERROR
from toolkit.rpc.http_errors import json_errors
from toolkit.rpc.server import JsonRpcServer

log = logging.getLogger("toolkit.gateway")

TIMEOUT = aiohttp.ClientTimeout(total=10)
HEALTH_TIMEOUT = aiohttp.ClientTimeout(total=1)
POLL_SECONDS = 0.25
RESEND_AFTER = 3.0
KEEP_SECONDS = 600.0
WRITE_METHOD = "eth_sendRawTransaction"
WRITE_METHODS = {WRITE_METHOD, "eth_sendTransaction"}  # eth_sendTransaction: a dev account signs on the node
MAX_BODY_BYTES = 5 * 1024 * 1024


class GatewayRequestError(Exception):
    """A body the gateway answers itself (JSON-RPC error, id null) without contacting a node."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def reply(self) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": None, "error": {"code": self.code, "message": self.message}}


@dataclass(frozen=True)
class RpcBody:
    """A parsed JSON-RPC HTTP body: one request or a batch (items are not checked further)."""

    requests: list[Any]
    batch: bool

    @property
    def writes(self) -> bool:
        """True if the body (or any request of the batch) sends a transaction."""
        return any(isinstance(r, dict) and r.get("method") in WRITE_METHODS for r in self.requests)

    @property
    def request_id(self) -> Any:
        """The id to answer a single request with (None for a batch)."""
        return None if self.batch else self.requests[0].get("id")


def _usable_id(message: dict[str, Any]) -> bool:
    """Ids that can match a reply to its request (a list or object id is not hashable)."""
    return isinstance(message.get("id"), str | int) and not isinstance(message.get("id"), bool)


def parse_rpc_body(body: bytes) -> RpcBody:
    """Parse an HTTP JSON-RPC body; raises GatewayRequestError with -32700 or -32600."""
    try:
        parsed = loads_bounded(body)  # json.loads could crash the process (see toolkit/bounded_json.py)
    except JsonTooDeep as exc:
        raise GatewayRequestError(INVALID_REQUEST, f"invalid request: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise GatewayRequestError(PARSE_ERROR, "parse error: body is not valid JSON") from exc
    if isinstance(parsed, dict):
        return RpcBody([parsed], batch=False)
    if isinstance(parsed, list):
        if not parsed:
            raise GatewayRequestError(INVALID_REQUEST, "invalid request: empty batch")
        return RpcBody(parsed, batch=True)
    raise GatewayRequestError(INVALID_REQUEST, "invalid request: expected a request object or a batch array")


@dataclass
class GatewayConfig:
    chain_id: int
    host: str
    port: int
    l1_rpc_url: str
    inbox_address: str
    registry_address: str
    mode: str
    nodes: dict[str, str]  # name -> base URL
    validator_urls: dict[str, str] = field(default_factory=dict)  # address -> base URL
    test_controls: bool = False  # POST /admin: devnet_forgetWrites (a devnet revert), never on "/"

    @classmethod
    def load(cls, path: Path) -> GatewayConfig:
        return cls(**json.loads(path.read_text()))


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.l1 = L1Client(config.l1_rpc_url, config.inbox_address, config.registry_address,
                           mode_named(config.mode).registry_contract)
        self.leader_url: str | None = None
        self.l1_head_number = 0  # as of the last watch step
        self._leader_read_at = b""  # the L1 head hash leader_url was read at
        self.healthy: dict[str, bool] = {url: False for url in config.nodes.values()}
        self.session: aiohttp.ClientSession | None = None
        self.forwarded_writes = 0
        self.resent = 0
        self.unconfirmed: dict[str, tuple[str, float, float]] = {}  # tx hash -> (raw hex, accepted at, last sent)
        self.traversal = L1Traversal()  # L1 heads seen, to notice an L1 reorg
        self.l1_reorgs = 0
        self.fork_point = -1  # of the last L1 reorg

    def candidates(self, writes: bool) -> list[str]:
        """Backends to try, best first."""
        ordered = sorted(self.healthy, key=lambda url: (url != self.leader_url, not self.healthy[url]))
        if writes and self.leader_url is not None and self.leader_url not in ordered:
            ordered.insert(0, self.leader_url)
        return ordered

    async def watch(self) -> None:
        """Follow the leader on L1 and each node's health."""
        assert self.session is not None
        while True:
            try:
                head = await self.l1.head()
                fork = await self.traversal.fork_point(self.l1, head)
                if fork is not None:  # sequencerChanged cursors past the fork point must move back
                    self.traversal.forget_above(fork)
                    self.fork_point, self.l1_reorgs = fork, self.l1_reorgs + 1
                    log.warning("L1 reorg: L1 blocks above %d were orphaned", fork)
                if head.hash != self._leader_read_at:  # who leads changes only with L1's head
                    leader = await self.l1.sequencer_for(self.config.chain_id, head.number)
                    self.leader_url = next(
                        (url for address, url in self.config.validator_urls.items()
                         if address.lower() == leader.lower()),
                        None,
                    )
                    self._leader_read_at = head.hash
                self.traversal.record(head)
                self.l1_head_number = head.number
            except Exception as exc:
                log.warning("cannot read the leader from L1: %s", exc)
            for url in list(self.healthy):
                try:
                    async with self.session.get(f"{url}/health", timeout=HEALTH_TIMEOUT) as response:
                        self.healthy[url] = response.status == 200 and (await response.json())["ready"]
                except Exception:
                    self.healthy[url] = False
            await self.settle_writes()
            await asyncio.sleep(POLL_SECONDS)

    async def _call(self, url: str, method: str, params: list[Any]) -> dict[str, Any]:
        assert self.session is not None
        request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        async with self.session.post(url, json=request) as response:
            return await response.json(content_type=None)

    def remember_writes(self, requests: list[Any], payload: bytes) -> None:
        """Keep every transaction a node accepted through us, until it is confirmed.

        `requests` are the parsed request objects (one, or a batch's); replies are matched by id.
        """
        try:
            replies = json.loads(payload)
        except ValueError:
            return
        replies = replies if isinstance(replies, list) else [replies]
        by_id = {reply.get("id"): reply for reply in replies if isinstance(reply, dict) and _usable_id(reply)}
        now = time.monotonic()
        for request in requests:
            if not isinstance(request, dict) or request.get("method") != WRITE_METHOD or not _usable_id(request):
                continue
            params = request.get("params")
            reply = by_id.get(request.get("id"), {})
            if isinstance(reply.get("result"), str) and isinstance(params, list) and params:
                self.unconfirmed[reply["result"]] = (params[0], now, now)

    async def forget_writes(self, params: list[Any]) -> int:
        """Test control (a devnet revert): the transactions accepted so far never happened; none is
        re-sent. Returns how many were forgotten."""
        forgotten = len(self.unconfirmed)
        self.unconfirmed.clear()
        return forgotten

    async def settle_writes(self) -> None:
        """Drop confirmed transactions; send again those that should have landed by now."""
        readers = [url for url in self.candidates(writes=False) if self.healthy.get(url)]
        if not readers or not self.unconfirmed:
            return
        now = time.monotonic()
        for tx_hash, (raw, accepted_at, sent_at) in list(self.unconfirmed.items()):
            try:
                receipt = (await self._call(readers[0], "eth_getTransactionReceipt", [tx_hash])).get("result")
            except Exception:
                return
            if receipt is not None or now - accepted_at > KEEP_SECONDS:
                self.unconfirmed.pop(tx_hash, None)
                continue
            if now - sent_at < RESEND_AFTER or self.leader_url is None or not self.healthy.get(self.leader_url):
                continue
            try:
                reply = await self._call(self.leader_url, WRITE_METHOD, [raw])
            except Exception:
                continue
            error = reply.get("error", {}).get("message", "")
            if "nonce too low" in error:
                self.unconfirmed.pop(tx_hash, None)  # a transaction with its nonce landed: settled
                continue
            self.unconfirmed[tx_hash] = (raw, accepted_at, now)
            if not error:
                self.resent += 1
                log.info("re-sent unconfirmed transaction %s to the leader %s", tx_hash, self.leader_url)

    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self.handle_ws(request)
        if request.method == "GET":
            return web.json_response({"leader": self.leader_url, "healthy": self.healthy,
                                      "unconfirmed": len(self.unconfirmed), "resent": self.resent})
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            return web.json_response(GatewayRequestError(LIMIT_EXCEEDED, f"request body too large: {exc.text}").reply(),
                                     status=413)
        try:
            parsed = parse_rpc_body(body)
        except GatewayRequestError as exc:
            return web.json_response(exc.reply())
        writes = parsed.writes
        assert self.session is not None
        last_error = "no node of this chain is reachable"
        for url in self.candidates(writes):
            try:
                async with self.session.post(url, data=body, headers={"Content-Type": "application/json"}) as reply:
                    payload = await reply.read()
                    if writes:
                        self.forwarded_writes += 1
                        try:  # the node ran the request: its reply reaches the client whatever happens here
                            self.remember_writes(parsed.requests, payload)
                        except Exception:
                            log.exception("cannot keep the transactions of a write for re-sending")
                    return web.Response(body=payload, status=reply.status, content_type="application/json")
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.healthy[url] = False
                last_error = f"{url}: {exc}"
        message = f"gateway: {last_error}" + ("; transaction not accepted" if writes else "")
        error = {"jsonrpc": "2.0", "id": parsed.request_id, "error": {"code": -32000, "message": message}}
        return web.json_response(error)

    async def handle_ws(self, request: web.Request) -> web.WebSocketResponse:
        client = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_BODY_BYTES)
        await client.prepare(request)
        await WsRelay(self, client).run()
        return client


class WsRelay:
    """One client WebSocket relayed to a backend node, re-subscribing after a backend loss."""

    def __init__(self, gateway: Gateway, client: web.WebSocketResponse) -> None:
        self.gateway = gateway
        self.client = client
        self.subscriptions: dict[str, list[Any]] = {}  # client-visible id -> eth_subscribe params
        self.backend_to_client: dict[str, str] = {}
        self.pending_subscribe: dict[Any, list[Any]] = {}  # request id -> params, awaiting the id
        self.backend: aiohttp.ClientWebSocketResponse | None = None
        # sequencerChanged subscriptions: the last (l1Block, logIndex) delivered, or the L1 block the
        # subscription started at; after a backend loss the gap is filled from L1 and repeats dropped
        self.change_cursor: dict[str, tuple[int, int]] = {}
        self._l1_reorgs_seen = gateway.l1_reorgs

    def _follow_l1_reorgs(self) -> None:
        """After an L1 reorg, changes above the fork point may come again from the new branch."""
        if self._l1_reorgs_seen == self.gateway.l1_reorgs:
            return
        self._l1_reorgs_seen = self.gateway.l1_reorgs
        floor = (self.gateway.fork_point, -1)
        for client_id, cursor in self.change_cursor.items():
            self.change_cursor[client_id] = min(cursor, floor)

    def _is_change_subscription(self, params: list[Any]) -> bool:
        return bool(params) and params[0] == "sequencerChanged"

    async def _fill_change_gaps(self) -> None:
        """Deliver the SequencerChanged events L1 holds that a lost backend never relayed."""
        if not self.change_cursor:
            return
        head = await self.gateway.l1.head()
        self._follow_l1_reorgs()
        for client_id, cursor in list(self.change_cursor.items()):
            changes = await self.gateway.l1.sequencer_changes(self.gateway.config.chain_id, cursor[0], head.number)
            for change in changes:
                await self._deliver_change(client_id, change)

    async def _deliver_change(self, client_id: str, change: dict[str, Any]) -> None:
        self._follow_l1_reorgs()
        key = (int(change["l1Block"]), int(change.get("logIndex", 0)))
        if client_id not in self.change_cursor or key <= self.change_cursor[client_id]:
            return  # delivered already (or the subscription is gone)
        self.change_cursor[client_id] = key
        await self.client.send_json({"jsonrpc": "2.0", "method": "eth_subscription",
                                     "params": {"subscription": client_id, "result": change}})

    async def connect(self) -> None:
        assert self.gateway.session is not None
        for url in self.gateway.candidates(writes=False):
            try:
                self.backend = await self.gateway.session.ws_connect(url.replace("http", "ws", 1), heartbeat=10)
            except (aiohttp.ClientError, TimeoutError):
                continue
            # Re-create subscriptions the client already holds, under its ids.
            for index, (client_id, params) in enumerate(self.subscriptions.items()):
                request_id = f"gateway-resubscribe-{index}-{time.monotonic_ns()}"
                await self.backend.send_json({"jsonrpc": "2.0", "id": request_id, "method": "eth_subscribe",
                                              "params": params})
                self.pending_subscribe[request_id] = [client_id]
            return
        raise ConnectionError("no node of this chain accepts WebSocket connections")

    async def run(self) -> None:
        try:
            await self.connect()
        except ConnectionError as exc:
            await self.client.close(message=str(exc).encode()[:120])
            return
        client_task = asyncio.ensure_future(self._from_client())
        try:
            while not self.client.closed:
                assert self.backend is not None
                message = await self.backend.receive()
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    try:
                        await self._to_client(json.loads(message.data))
                    except (ValueError, KeyError, TypeError, AttributeError) as exc:
                        log.warning("cannot relay a backend WebSocket message: %r", exc)
                elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR, WSMsgType.CLOSING):
                    log.info("backend WebSocket lost; reconnecting the client's subscriptions elsewhere")
                    await self.connect()
                    try:
                        await self._fill_change_gaps()
                    except Exception as exc:  # L1 unreachable: the next notices still come from the node
                        log.warning("cannot fill sequencerChanged gaps from L1: %s", exc)
                if client_task.done():
                    break
        except ConnectionError:
            await self.client.close()
        finally:
            client_task.cancel()
            if self.backend is not None:
                await self.backend.close()

    async def _from_client(self) -> None:
        async for message in self.client:
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY) or self.backend is None:
                continue
            try:
                request = loads_bounded(message.data)  # web3.py's WebSocketProvider sends binary frames
            except JsonTooDeep as exc:
                await self._refuse(INVALID_REQUEST, f"invalid request: {exc}")
                continue
            except ValueError:
                await self._refuse(PARSE_ERROR, "parse error: message is not valid JSON")
                continue
            try:
                request = self._note_request(request)
            except GatewayRequestError as exc:
                await self._refuse(exc.code, exc.message, request.get("id") if _usable_id(request) else None)
                continue
            try:
                await self.backend.send_json(request)
            except (ConnectionError, RuntimeError):
                await asyncio.sleep(POLL_SECONDS)  # the receive loop reconnects; the client may retry

    async def _refuse(self, code: int, message: str, request_id: Any = None) -> None:
        await self.client.send_json({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})

    def _note_request(self, request: Any) -> Any:
        """Track subscriptions a client request makes or ends; the request as the backend must get it.
        Malformed requests go on to the node as they are (it answers them), except an eth_unsubscribe
        whose id we cannot map, refused here."""
        if not isinstance(request, dict):
            return request
        if request.get("method") == "eth_subscribe" and _usable_id(request):
            self.pending_subscribe[request["id"]] = request.get("params", [])
        if request.get("method") == "eth_unsubscribe":
            params = request.get("params")
            if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], str):
                raise GatewayRequestError(INVALID_PARAMS, "invalid params: expected [subscriptionId]")
            client_id = params[0]
            self.subscriptions.pop(client_id, None)
            self.change_cursor.pop(client_id, None)
            backend_id = next((b for b, c in self.backend_to_client.items() if c == client_id), client_id)
            request = {**request, "params": [backend_id]}
        return request

    async def _to_client(self, message: Any) -> None:
        if not isinstance(message, dict):  # a batch's replies: passed through as they are
            await self.client.send_json(message)
            return
        if message.get("method") == "eth_subscription":
            backend_id = message["params"]["subscription"]
            client_id = self.backend_to_client.get(backend_id, backend_id)
            if client_id in self.change_cursor and isinstance(message["params"].get("result"), dict):
                await self._deliver_change(client_id, message["params"]["result"])
                return
            message["params"]["subscription"] = client_id
            await self.client.send_json(message)
            return
        request_id = message.get("id")
        if _usable_id(message) and request_id in self.pending_subscribe and "result" in message:
            params = self.pending_subscribe.pop(request_id)
            if isinstance(request_id, str) and request_id.startswith("gateway-resubscribe-"):
                client_id = params[0]
                self.backend_to_client[message["result"]] = client_id
                return  # internal: the client already holds this subscription
            self.subscriptions[message["result"]] = params
            self.backend_to_client[message["result"]] = message["result"]
            if self._is_change_subscription(params):
                # events from the L1 head on are this subscriber's (the node relays newer ones)
                self.change_cursor[message["result"]] = (self.gateway.l1_head_number, -1)
        await self.client.send_json(message)


async def serve(config: GatewayConfig) -> None:
    gateway = Gateway(config)
    gateway.session = aiohttp.ClientSession(timeout=TIMEOUT)
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[cors_middleware, json_errors])
    app.router.add_route("*", "/", gateway.handle_http)
    if config.test_controls:
        JsonRpcServer({"devnet_forgetWrites": gateway.forget_writes}).add_routes(app, ADMIN_PATH)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    log.info("gateway for chain %d on http://%s:%d", config.chain_id, config.host, config.port)
    watcher = asyncio.ensure_future(gateway.watch())
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        await runner.cleanup()
        await gateway.session.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.gateway")
    parser.add_argument("--config", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        config = GatewayConfig.load(args.config)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: bad gateway config {args.config}: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
