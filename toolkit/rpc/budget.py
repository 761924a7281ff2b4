"""The time budget of one JSON-RPC request: one HTTP body or one WebSocket message, a batch included.

Every request is answered within REQUEST_TIME_BUDGET: what is still running then is abandoned and
answered with geth's -32002 "request timed out" (a batch's remaining items too). EVM work, which
runs in worker threads that cannot be cancelled from outside, stops itself at the smaller of this
request's remaining time and CALL_TIME_BUDGET (toolkit.l2.call_deadline).
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

REQUEST_TIME_BUDGET = 30.0  # seconds, as geth's HTTP write timeout
REQUEST_TIMED_OUT = -32002  # geth's errcodeTimeout

_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)


def start(seconds: float = REQUEST_TIME_BUDGET) -> object:
    """Begin a request's budget in this context; returns the token `end` takes."""
    return _deadline.set(asyncio.get_running_loop().time() + seconds)


def end(token: object) -> None:
    _deadline.reset(token)  # type: ignore[arg-type]


def remaining() -> float | None:
    """Seconds left of the current request's budget (None outside a request)."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - asyncio.get_running_loop().time()
