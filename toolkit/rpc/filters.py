"""Polling filters (eth_newFilter / eth_newBlockFilter / eth_getFilterChanges), fed by chain events."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth.abc import BlockHeaderAPI

from toolkit.rpc.errors import LIMIT_EXCEEDED, SERVER_ERROR, RpcError
from toolkit.rpc.events import BlockEvent, ChainEvents, NoticeEvent
from toolkit.rpc.formatters import data
from toolkit.rpc.log_filter import LogCriteria

FILTER_TIMEOUT_SECONDS = 300  # geth: a filter not polled for 5 minutes is gone
MAX_FILTERS = 100  # live filters per node, all clients together
MAX_PENDING_CHANGES = 10_000

LogsOfBlock = Callable[[BlockHeaderAPI, LogCriteria, bool], list[dict[str, Any]]]


@dataclass
class _Filter:
    kind: str  # "logs" | "blocks" | "pending"
    spec: dict[str, Any] = field(default_factory=dict)
    criteria: LogCriteria | None = None
    changes: list[Any] = field(default_factory=list)
    last_polled: float = field(default_factory=time.monotonic)


class FilterManager:
    """Live filters of one node: at most `max_filters` at once (-32005 beyond), each gone once it has
    not been polled for `timeout` seconds (then "filter not found", as geth)."""

    def __init__(self, events: ChainEvents, *, max_filters: int = MAX_FILTERS,
                 timeout: float = FILTER_TIMEOUT_SECONDS) -> None:
        self._filters: dict[str, _Filter] = {}
        self._max_filters = max_filters
        self._timeout = timeout
        self._serial = itertools.count(1)
        self._logs_of_block: LogsOfBlock | None = None
        events.listen(self._on_event)

    def _new(self, entry: _Filter) -> str:
        self._expire()
        if len(self._filters) >= self._max_filters:
            raise RpcError(LIMIT_EXCEEDED, f"too many filters: limit {self._max_filters} per node; "
                                           "uninstall unused ones (eth_uninstallFilter) or wait for them to expire")
        filter_id = hex(next(self._serial) << 32 | secrets.randbits(32))
        self._filters[filter_id] = entry
        return filter_id

    def new_log_filter(self, spec: dict[str, Any], criteria: LogCriteria, logs_of_block: LogsOfBlock) -> str:
        self._logs_of_block = logs_of_block
        return self._new(_Filter(kind="logs", spec=dict(spec), criteria=criteria))

    def new_block_filter(self) -> str:
        return self._new(_Filter(kind="blocks"))

    def new_pending_filter(self) -> str:
        return self._new(_Filter(kind="pending"))

    def live_count(self) -> int:
        """Filters not yet expired."""
        self._expire()
        return len(self._filters)

    def _get(self, filter_id: Any) -> _Filter:
        self._expire()
        entry = self._filters.get(filter_id) if isinstance(filter_id, str) else None
        if entry is None:
            raise RpcError(SERVER_ERROR, "filter not found")
        entry.last_polled = time.monotonic()
        return entry

    def changes(self, filter_id: Any) -> list[Any]:
        entry = self._get(filter_id)
        changes, entry.changes = entry.changes, []
        return changes

    def log_filter_spec(self, filter_id: Any) -> tuple[dict[str, Any], LogCriteria]:
        entry = self._get(filter_id)
        if entry.kind != "logs" or entry.criteria is None:
            raise RpcError(SERVER_ERROR, "filter not found")
        return entry.spec, entry.criteria

    def uninstall(self, filter_id: Any) -> bool:
        return self._filters.pop(filter_id, None) is not None if isinstance(filter_id, str) else False

    def note_pending(self, tx_hash: bytes) -> None:
        for entry in self._filters.values():
            if entry.kind == "pending" and len(entry.changes) < MAX_PENDING_CHANGES:
                entry.changes.append(data(tx_hash))

    def _on_event(self, event: BlockEvent | NoticeEvent) -> None:
        if not isinstance(event, BlockEvent):
            return
        self._expire()
        header = event.block.header
        for entry in self._filters.values():
            if len(entry.changes) >= MAX_PENDING_CHANGES:
                continue
            if entry.kind == "blocks" and not event.removed:
                entry.changes.append(data(header.hash))
            elif entry.kind == "logs" and entry.criteria is not None and self._logs_of_block is not None:
                entry.changes.extend(self._logs_of_block(header, entry.criteria, event.removed))

    def _expire(self) -> None:
        deadline = time.monotonic() - self._timeout
        for filter_id in [fid for fid, f in self._filters.items() if f.last_polled < deadline]:
            del self._filters[filter_id]
