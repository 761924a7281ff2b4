"""Run EVM calls (eth_call, eth_estimateGas, eth_createAccessList, debug_traceCall) off the event loop.

A call of up to 50M gas takes seconds of py-evm; on the event loop it would stall block production,
gossip and every other request. Each call runs in a worker thread with its own VM built from the
header resolved on the loop: py-evm state objects are per VM, and the chain database only ever gains
content-addressed trie nodes and blocks (no pruning), so the state at that header's root cannot change
under the call while the block builder writes new state on the loop.

The work stops itself after CALL_TIME_BUDGET seconds (geth's "execution aborted (timeout = 5s)"), or
when the request's own budget runs out first (toolkit.rpc.budget: "-32002 request timed out").
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from toolkit.l2.call_deadline import CALL_TIME_BUDGET, CallTimedOut, deadline
from toolkit.rpc import budget
from toolkit.rpc.errors import SERVER_ERROR, RpcError

CALL_WORKERS = 2  # concurrent calls per node; more wait their turn (the GIL serialises them anyway)

_P = ParamSpec("_P")
_T = TypeVar("_T")
_pool = ThreadPoolExecutor(max_workers=CALL_WORKERS, thread_name_prefix="rpc-call")


async def off_loop(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """`fn(*args, **kwargs)` in a call worker thread, within the time budget; the event loop goes on meanwhile."""
    left = budget.remaining()
    request_binds = left is not None and left < CALL_TIME_BUDGET  # the request runs out first
    seconds = max(left, 0.0) if request_binds else CALL_TIME_BUDGET
    try:
        return await asyncio.get_running_loop().run_in_executor(
            _pool, functools.partial(_within, seconds, fn, *args, **kwargs))
    except CallTimedOut as exc:
        if request_binds:
            raise RpcError(budget.REQUEST_TIMED_OUT, "request timed out") from exc
        raise RpcError(SERVER_ERROR, str(exc)) from exc


def _within(seconds: float, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    with deadline(seconds):
        return fn(*args, **kwargs)
