"""Waiting in end-to-end tests: poll for a condition, or for one specific notification.

Prefer `wait_for_event` over waiting for "the first change" of a counter or a list's length:
something else may change it first, and the test then checks the wrong thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

POLL_SECONDS = 0.1


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; return its value or fail with `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class HasNotices(Protocol):
    """Anything that collects notifications in arrival order (e.g. a SubscriptionCollector)."""

    @property
    def notices(self) -> Sequence[dict[str, Any]]: ...


def wait_for_event(
    source: HasNotices,
    match: Callable[[dict[str, Any]], bool],
    *,
    since: int = 0,
    timeout: float = 30.0,
    what: str = "a matching notification",
) -> dict[str, Any]:
    """Wait until a notice at position >= `since` in `source.notices` satisfies `match`; return it.

    Notices that arrived before the call count too (unless `since` skips them), so take
    `since = len(collector.notices)` before the action whose consequence you wait for.
    On timeout the error lists what did arrive, to show what happened instead.
    """
    deadline = time.monotonic() + timeout
    checked = since
    while True:
        notices = source.notices
        while checked < len(notices):
            notice = notices[checked]
            checked += 1
            if match(notice):
                return notice
        if time.monotonic() >= deadline:
            seen = list(notices[since:])
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; {len(seen)} other notice(s) arrived"
                + (f", the last: {seen[-3:]}" if seen else "")
            )
        time.sleep(POLL_SECONDS)
