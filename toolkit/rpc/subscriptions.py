"""eth_subscribe kinds: newHeads, logs, newPendingTransactions and the rollup's sequencerChanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolkit.rpc.errors import invalid_params
from toolkit.rpc.events import BlockEvent, ChainEvents, NoticeEvent
from toolkit.rpc.formatters import format_header
from toolkit.rpc.log_filter import LogCriteria
from toolkit.rpc.server import Subscription

NOTICE_TOPICS = ("sequencerChanged", "newPendingTransactions")


class EventSubscription(Subscription):
    def __init__(self, events: ChainEvents, render: Callable[[BlockEvent | NoticeEvent], list[Any]]) -> None:
        self._events = events
        self._render = render
        self._token: int | None = None

    def start(self, send: Callable[[Any], None]) -> None:
        def on_event(event: BlockEvent | NoticeEvent) -> None:
            for item in self._render(event):
                send(item)

        self._token = self._events.listen(on_event)

    def stop(self) -> None:
        if self._token is not None:
            self._events.unlisten(self._token)
            self._token = None


def subscription_factory(
    events: ChainEvents, logs_of_block: Callable[..., list[dict[str, Any]]]
) -> Callable[[list[Any]], Subscription]:
    def create(params: list[Any]) -> Subscription:
        if not params or not isinstance(params[0], str):
            raise invalid_params("expected a subscription name")
        kind = params[0]
        if kind == "newHeads":

            def render_heads(event: BlockEvent | NoticeEvent) -> list[Any]:
                if isinstance(event, BlockEvent) and not event.removed:
                    return [format_header(event.block.header, 0)]
                return []

            return EventSubscription(events, render_heads)
        if kind == "logs":
            spec = params[1] if len(params) > 1 and params[1] is not None else {}
            if not isinstance(spec, dict):
                raise invalid_params("logs subscription takes a filter object")
            criteria = LogCriteria.parse(spec)

            def render_logs(event: BlockEvent | NoticeEvent) -> list[Any]:
                if isinstance(event, BlockEvent):
                    return logs_of_block(event.block.header, criteria, event.removed)
                return []

            return EventSubscription(events, render_logs)
        if kind in NOTICE_TOPICS:

            def render_notice(event: BlockEvent | NoticeEvent) -> list[Any]:
                return [event.payload] if isinstance(event, NoticeEvent) and event.topic == kind else []

            return EventSubscription(events, render_notice)
        raise invalid_params(f"unsupported subscription {kind!r}")

    return create
