"""Chain events fanned out to WebSocket subscriptions and polling filters."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth.abc import BlockAPI, ReceiptAPI


@dataclass(frozen=True)
class BlockEvent:
    """A block joined (removed=False) or left (removed=True, a reorg) the canonical chain."""

    block: BlockAPI
    receipts: tuple[ReceiptAPI, ...]
    removed: bool = False


@dataclass(frozen=True)
class NoticeEvent:
    """A rollup notice for a named subscription (e.g. sequencerChanged)."""

    topic: str
    payload: dict[str, Any]


Listener = Callable[[BlockEvent | NoticeEvent], None]


class ChainEvents:
    def __init__(self) -> None:
        self._listeners: dict[int, Listener] = {}
        self._ids = itertools.count(1)

    def listen(self, listener: Listener) -> int:
        token = next(self._ids)
        self._listeners[token] = listener
        return token

    def unlisten(self, token: int) -> None:
        self._listeners.pop(token, None)

    def emit(self, event: BlockEvent | NoticeEvent) -> None:
        for listener in list(self._listeners.values()):
            listener(event)
