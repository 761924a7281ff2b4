"""A WebSocket subscription collected in a background thread, for tests that watch notifications."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from toolkit.rpc.ws_subscription import notifications


class SubscriptionCollector:
    """Collects the notifications of one WebSocket subscription (`kind`) in a thread."""

    def __init__(self, ws_url: str, kind: str) -> None:
        self.ws_url, self.kind = ws_url, kind
        self.notices: list[dict[str, Any]] = []
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        async for notice in notifications(self.ws_url, self.kind, self._stop, self.subscribed.set):
            self.notices.append(notice)

    def __enter__(self) -> SubscriptionCollector:
        self._thread.start()
        assert self.subscribed.wait(10), f"could not subscribe to {self.kind} at {self.ws_url}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
