"""An async watcher for client developers: what a wallet or payments client should react to.

    watcher = ChainWatcher("http://127.0.0.1:9545", block_time=1.0)
    watcher.track(tx_hash, raw=signed_raw)          # follow a transaction's confirmation level
    async for event in watcher.events():            # ClientEvent(kind, data)
        ...

Kinds:
    sequencerChanged  a SequencerChanged notice (WebSocket subscription on the gateway)
    stalled           no new unsafe block for `stall_blocks` block times (liveness alarm); `resumed` after
    timeoutSoon       the leader's liveness timeout becomes callable on L1 within `warn_l1_blocks` blocks
    confirmation      a tracked transaction reached a level: unsafe -> safe -> finalized
    dropped           a tracked transaction left the chain (a reorg) or no node knows it any more
    resent            a dropped transaction was sent again (when its raw bytes were given to `track`)

Reads are plain JSON-RPC over HTTP (aiohttp), polled every `poll_seconds`; nothing here sleeps to wait
for a condition other than that poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import websockets

LEVELS = ("unsafe", "safe", "finalized")


@dataclass(frozen=True)
class ClientEvent:
    kind: str
    data: dict[str, Any]


@dataclass
class Tracked:
    tx_hash: str
    raw: bytes | None
    level: str | None = None
    block_hash: str | None = None
    resent: int = 0


@dataclass
class ChainWatcher:
    http_url: str
    ws_url: str | None = None  # default: the HTTP URL's WebSocket twin
    block_time: float = 1.0
    stall_blocks: int = 3
    warn_l1_blocks: int = 2
    poll_seconds: float = 0.2
    tracked: dict[str, Tracked] = field(default_factory=dict)

    def track(self, tx_hash: str, raw: bytes | None = None) -> None:
        self.tracked[tx_hash.lower()] = Tracked(tx_hash.lower(), raw)

    async def events(self) -> AsyncIterator[ClientEvent]:
        queue: asyncio.Queue[ClientEvent] = asyncio.Queue()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            tasks = [asyncio.create_task(self._poll(session, queue)),
                     asyncio.create_task(self._changes(queue))]
            try:
                while True:
                    yield await queue.get()
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _rpc(self, session: aiohttp.ClientSession, method: str, params: list[Any] | None = None) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        async with session.post(self.http_url, json=body) as response:
            reply = await response.json(content_type=None)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply["result"]

    async def _changes(self, queue: asyncio.Queue[ClientEvent]) -> None:
        url = self.ws_url or self.http_url.replace("http", "ws", 1)
        while True:
            try:
                async with websockets.connect(url) as socket:
                    await socket.send('{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["sequencerChanged"]}')
                    await socket.recv()
                    async for message in socket:
                        notice = json.loads(message)
                        if notice.get("method") == "eth_subscription":
                            await queue.put(ClientEvent("sequencerChanged", notice["params"]["result"]))
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(self.poll_seconds)  # the gateway restarts: subscribe again

    async def _poll(self, session: aiohttp.ClientSession, queue: asyncio.Queue[ClientEvent]) -> None:
        last_head, last_move, stalled, warned_at = -1, time.monotonic(), False, -1
        while True:
            try:
                head = int(await self._rpc(session, "eth_blockNumber"), 16)
                if head != last_head:
                    last_head, last_move = head, time.monotonic()
                    if stalled:
                        stalled = False
                        await queue.put(ClientEvent("resumed", {"unsafe": head}))
                elif not stalled and time.monotonic() - last_move > self.stall_blocks * self.block_time:
                    stalled = True
                    await queue.put(ClientEvent("stalled", {"unsafe": head,
                                                            "seconds": round(time.monotonic() - last_move, 2)}))
                info = await self._rpc(session, "rollup_sequencer")
                callable_at = info.get("timeoutCallableAt")
                l1_block = info.get("l1Block")
                if isinstance(callable_at, int) and isinstance(l1_block, int) and callable_at != warned_at \
                        and 0 <= callable_at - l1_block <= self.warn_l1_blocks:
                    warned_at = callable_at
                    await queue.put(ClientEvent("timeoutSoon", {"leader": info.get("sequencer"),
                                                                "callableAt": callable_at, "l1Block": l1_block}))
                for tracked in list(self.tracked.values()):
                    await self._follow(session, tracked, queue)
            except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError) as exc:
                await queue.put(ClientEvent("unreachable", {"error": str(exc)}))
            await asyncio.sleep(self.poll_seconds)

    async def _follow(self, session: aiohttp.ClientSession, tracked: Tracked, queue: asyncio.Queue[ClientEvent]) -> None:
        receipt = await self._rpc(session, "eth_getTransactionReceipt", [tracked.tx_hash])
        if receipt is None or (tracked.block_hash and receipt["blockHash"] != tracked.block_hash):
            if tracked.level is not None:
                await queue.put(ClientEvent("dropped", {"txHash": tracked.tx_hash, "level": tracked.level}))
                tracked.level, tracked.block_hash = None, None
            if receipt is None:
                if tracked.raw is not None and await self._rpc(session, "eth_getTransactionByHash",
                                                               [tracked.tx_hash]) is None:
                    await self._rpc(session, "eth_sendRawTransaction", ["0x" + tracked.raw.hex()])
                    tracked.resent += 1
                    await queue.put(ClientEvent("resent", {"txHash": tracked.tx_hash, "times": tracked.resent}))
                return
        number = int(receipt["blockNumber"], 16)
        level = "unsafe"
        for candidate in ("safe", "finalized"):
            block = await self._rpc(session, "eth_getBlockByNumber", [candidate, False])
            if block is not None and int(block["number"], 16) >= number:
                level = candidate
        if tracked.level is None or LEVELS.index(level) > LEVELS.index(tracked.level):
            tracked.level, tracked.block_hash = level, receipt["blockHash"]
            await queue.put(ClientEvent("confirmation", {"txHash": tracked.tx_hash, "level": level,
                                                         "blockNumber": number, "blockHash": receipt["blockHash"]}))
