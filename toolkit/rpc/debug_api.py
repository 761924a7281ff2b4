"""debug_traceTransaction and debug_traceCall, in geth's formats: struct logs (the default) or callTracer."""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI

from toolkit.l2.calls import CallRefused, CallRequest, StateOverrides, execute_call
from toolkit.l2.tracing import Tracer, call_result, replay_until, struct_result, traced_chain, tracing
from toolkit.rpc import params as p
from toolkit.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from toolkit.rpc.offload import off_loop
from toolkit.rpc.server import Handler

TRACERS = (None, "callTracer")


def _options(value: Any) -> tuple[str | None, Tracer]:
    options = value if value is not None else {}
    if not isinstance(options, dict):
        raise invalid_params("trace options must be an object")
    tracer = options.get("tracer")
    if tracer not in TRACERS:
        raise RpcError(SERVER_ERROR, f"tracer {tracer!r} not found: this node has the struct logger and callTracer")
    return tracer, Tracer(memory=bool(options.get("enableMemory")))


class DebugApi:
    def __init__(self, eth: Any) -> None:
        self.eth = eth  # the node's EthApi: block resolution and the executor
        self.executor = eth.executor

    def methods(self) -> dict[str, Handler]:
        return {"debug_traceTransaction": self.debug_traceTransaction, "debug_traceCall": self.debug_traceCall}

    async def debug_traceTransaction(self, params: list[Any]) -> dict[str, Any]:
        p.expect_count(params, 2)
        tx_hash = p.hex_bytes(p.arg(params, 0, "hash"), "hash", 32)
        kind, tracer = _options(p.arg(params, 1, "options", None))
        location = self.executor.transaction_location(tx_hash)
        if location is None:
            raise RpcError(SERVER_ERROR, "transaction not found")
        number, index = location
        block = self.executor.block_by_hash(self.executor.header_by_number(number).hash)
        gas_used, computation = await off_loop(replay_until, self.executor.chain, block, index, tracer)
        if kind == "callTracer":
            return call_result(tracer, block.transactions[index].gas, gas_used)
        return struct_result(tracer, gas_used, computation)

    async def debug_traceCall(self, params: list[Any]) -> dict[str, Any]:
        p.expect_count(params, 3)
        call = p.call_object(p.arg(params, 0, "transaction"))
        header = self.eth.resolve_header(p.arg(params, 1, "block", "latest"))
        options = p.arg(params, 2, "options", None)
        kind, tracer = _options(options)
        overrides = p.state_overrides(options.get("stateOverrides")) if isinstance(options, dict) else {}
        try:
            computation, gas_used = await off_loop(_traced_call, self.executor.chain, tracer, call, header, overrides)
        except CallRefused as exc:
            raise RpcError(SERVER_ERROR, str(exc)) from exc
        if kind == "callTracer":
            return call_result(tracer, call.gas if call.gas is not None else header.gas_limit, gas_used)
        return struct_result(tracer, gas_used, computation)


def _traced_call(chain: Any, tracer: Any, call: CallRequest, header: BlockHeaderAPI,
                 overrides: StateOverrides) -> tuple[Any, int]:
    """The call under `tracer`, on a traced VM of its own (runs in a call worker thread)."""
    vm = traced_chain(chain).get_vm(header)
    with tracing(tracer):
        return execute_call(vm, call, overrides, header.gas_limit)
