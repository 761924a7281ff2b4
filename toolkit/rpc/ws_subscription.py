"""A WebSocket `eth_subscribe` client: the notifications of one subscription, until told to stop.

Used by tests and benchmarks to watch `newHeads` or `sequencerChanged` on a node or the gateway.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import websockets

POLL_SECONDS = 0.5  # how often a quiet subscription checks `stop`


class SubscriptionRefused(RuntimeError):
    """The server answered eth_subscribe with an error."""


async def notifications(
    ws_url: str, kind: str, stop: threading.Event, on_subscribed: Callable[[], None] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Subscribe to `kind` at `ws_url`; yield each notification's result until `stop` is set."""
    async with websockets.connect(ws_url) as socket:
        await socket.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": [kind]}))
        reply = json.loads(await socket.recv())
        if "error" in reply:
            raise SubscriptionRefused(f"eth_subscribe {kind} at {ws_url}: {reply['error']}")
        if on_subscribed is not None:
            on_subscribed()
        while not stop.is_set():
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), POLL_SECONDS))
            except TimeoutError:
                continue
            if message.get("method") == "eth_subscription":
                yield message["params"]["result"]
