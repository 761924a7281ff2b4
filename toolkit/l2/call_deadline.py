"""A time budget for EVM work done for an RPC request (geth's --rpc.evmtimeout, 5 s by default).

The gas cap bounds what one call may burn, not how long py-evm takes to burn it: 50M gas of a
tight loop is tens of seconds on a loaded machine, and eth_estimateGas runs a call up to ~25 times.
A worker thread cannot be cancelled from outside, so the EVM stops itself: the computation class
of a call's state checks the thread's deadline on every frame entry and on every JUMP and JUMPI
(no loop, recursion or call chain runs without one of those), and raises `CallTimedOut`, which is
not a VM error, so py-evm does not turn it into an out-of-gas result but unwinds the whole call.
Block building and derivation never set a deadline and never use these classes.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eth.abc import ComputationAPI, MessageAPI, StateAPI, TransactionContextAPI
from eth.vm.opcode_values import JUMP, JUMPI

CALL_TIME_BUDGET = 5.0  # seconds of EVM work per request, as geth's --rpc.evmtimeout

_local = threading.local()


class CallTimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"execution aborted (timeout = {seconds:.3g}s)")  # geth's words


@contextmanager
def deadline(seconds: float = CALL_TIME_BUDGET) -> Iterator[None]:
    """EVM work in this thread, within the block, stops with CallTimedOut after `seconds`."""
    outer = getattr(_local, "deadline", None)
    _local.deadline = (time.monotonic() + seconds, seconds)
    try:
        yield
    finally:
        _local.deadline = outer


def check_deadline() -> None:
    current = getattr(_local, "deadline", None)
    if current is not None and time.monotonic() > current[0]:
        raise CallTimedOut(current[1])


class _CheckedOpcode:
    def __init__(self, opcode: Any) -> None:
        self.opcode = opcode
        self.mnemonic = getattr(opcode, "mnemonic", None)
        self.gas_cost = getattr(opcode, "gas_cost", 0)

    def __call__(self, computation: ComputationAPI) -> None:
        check_deadline()
        return self.opcode(computation=computation)


@functools.cache
def with_deadline(computation_class: type[ComputationAPI]) -> type[ComputationAPI]:
    """`computation_class`, stopping at the thread's deadline (see the module doc)."""
    opcodes = dict(computation_class.opcodes)
    for value in (JUMP, JUMPI):
        opcodes[value] = _CheckedOpcode(opcodes[value])

    @classmethod  # type: ignore[misc]
    def apply_computation(
        cls: Any,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        check_deadline()
        return super(checked, cls).apply_computation(state, message, transaction_context, parent_computation)

    checked: type[ComputationAPI] = type(
        f"Deadline{computation_class.__name__}", (computation_class,),
        {"opcodes": opcodes, "apply_computation": apply_computation},
    )
    return checked


def limit_state(state: StateAPI) -> StateAPI:
    """Make `state` run its transactions with the deadline check (its own instance only)."""
    state.computation_class = with_deadline(type(state).computation_class)  # type: ignore[misc]
    return state
