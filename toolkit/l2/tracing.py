"""Execution traces on py-evm, in geth's formats: struct logs (the default tracer) and `callTracer`.

py-evm has no tracer hooks, so tracing runs on a VM class of its own (`TracedPragueVM`) whose
computation wraps every opcode and every message frame; with no active tracer the wrappers only pass
through. A mined transaction is traced by re-executing its block up to it on the parent's state,
exactly as `L2Executor.execute_block` built it; a call is traced on the costless call state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth.abc import BlockAPI, ComputationAPI, MessageAPI, StateAPI, TransactionContextAPI
from eth.chains.base import Chain
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState
from eth_utils import to_checksum_address

from toolkit.l2.call_deadline import limit_state
from toolkit.l2.l2_vm import L2PragueVM

CALL_OPCODES = {"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2"}
MAX_STRUCT_LOGS = 100_000


def _hex(value: int | bytes) -> str:
    return hex(value) if isinstance(value, int) else hex(int.from_bytes(value, "big"))


def _word(value: int | bytes) -> int:
    return value if isinstance(value, int) else int.from_bytes(value, "big")


def _error_text(computation: ComputationAPI) -> str | None:
    if not computation.is_error:
        return None
    name = type(computation.error).__name__
    if name == "Revert":
        return "execution reverted"
    if name == "OutOfGas":
        return "out of gas"
    return str(computation.error) or name


@dataclass
class Tracer:
    """Collects struct logs and call frames while it is the active tracer."""

    memory: bool = False
    struct_logs: list[dict[str, Any]] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)  # open call frames, innermost last
    root: dict[str, Any] | None = None
    _pending: list[tuple[dict[str, Any] | None, int]] = field(default_factory=list)
    _last_op: dict[int, str] = field(default_factory=dict)  # depth -> last opcode run there
    _storage: dict[bytes, dict[int, int]] = field(default_factory=dict)  # slots seen per contract
    _creates: list[tuple[MessageAPI, dict[str, Any]]] = field(default_factory=list)  # awaiting code deposit

    def _storage_seen(self, computation: ComputationAPI, mnemonic: str) -> dict[str, str] | None:
        """geth's structLogger: at SLOAD / SSTORE, every slot of this contract seen so far (the one
        being read or written with its value), as {64-hex slot: 64-hex value}."""
        stack = computation._stack.values  # type: ignore[attr-defined]
        if (mnemonic == "SLOAD" and len(stack) < 1) or (mnemonic == "SSTORE" and len(stack) < 2):
            return None
        account = bytes(computation.msg.storage_address)
        slot = _word(stack[-1])
        value = _word(stack[-2]) if mnemonic == "SSTORE" else computation.state.get_storage(account, slot)
        seen = self._storage.setdefault(account, {})
        seen[slot] = value
        return {f"{k:064x}": f"{v:064x}" for k, v in seen.items()}

    def before_opcode(self, computation: ComputationAPI, mnemonic: str) -> None:
        depth = computation.msg.depth + 1
        self._last_op[depth] = mnemonic
        entry: dict[str, Any] | None = None
        if len(self.struct_logs) < MAX_STRUCT_LOGS:
            entry = {
                "pc": max(0, computation.code.program_counter - 1),
                "op": mnemonic,
                "gas": computation.get_gas_remaining(),
                "gasCost": 0,
                "depth": depth,
                "stack": [_hex(v) for v in computation._stack.values],  # type: ignore[attr-defined]
            }
            if mnemonic in ("SLOAD", "SSTORE"):
                storage = self._storage_seen(computation, mnemonic)
                if storage is not None:
                    entry["storage"] = storage
            if self.memory:
                raw = bytes(computation._memory._bytes)  # type: ignore[attr-defined]
                entry["memory"] = [raw[i:i + 32].hex() for i in range(0, len(raw), 32)]
            self.struct_logs.append(entry)
        self._pending.append((entry, computation.get_gas_remaining()))

    def after_opcode(self, computation: ComputationAPI) -> None:
        entry, gas_before = self._pending.pop()
        if entry is not None:
            entry["gasCost"] = max(0, gas_before - computation.get_gas_remaining())

    def enter_frame(self, message: MessageAPI) -> None:
        caller_op = self._last_op.get(message.depth, "")
        if message.is_create:
            kind = caller_op if caller_op in ("CREATE", "CREATE2") and message.depth > 0 else "CREATE"
            to = message.storage_address
        else:
            kind = caller_op if caller_op in CALL_OPCODES and message.depth > 0 else "CALL"
            to = message.code_address
        frame: dict[str, Any] = {
            "type": kind,
            "from": to_checksum_address(message.sender),
            "to": to_checksum_address(to),
            "value": hex(message.value),
            "gas": hex(message.gas),
            "input": "0x" + bytes(message.code if message.is_create else message.data_as_bytes).hex(),
        }
        if kind in ("STATICCALL", "DELEGATECALL"):
            del frame["value"]
        if self.frames:
            self.frames[-1].setdefault("calls", []).append(frame)
        else:
            self.root = frame
        self.frames.append(frame)

    def exit_frame(self, computation: ComputationAPI) -> None:
        frame = self.frames.pop()
        self._close(frame, computation)
        if computation.msg.is_create:
            self._creates.append((computation.msg, frame))

    def _close(self, frame: dict[str, Any], computation: ComputationAPI) -> None:
        frame["gasUsed"] = hex(computation.msg.gas - computation.get_gas_remaining())
        frame["output"] = "0x" + bytes(computation.output).hex()
        frame.pop("error", None)
        error = _error_text(computation)
        if error is not None:
            frame["error"] = error

    def created(self, computation: ComputationAPI) -> None:
        """A CREATE frame once its code is deposited: gasUsed includes the deposit (200 a byte), as geth."""
        while self._creates:
            message, frame = self._creates.pop()
            if message is computation.msg:
                self._close(frame, computation)
                return


_STACKS = threading.local()  # each thread its own tracer stack: traces run in call worker threads


def _active() -> list[Tracer]:
    if not hasattr(_STACKS, "tracers"):
        _STACKS.tracers = []
    return _STACKS.tracers


@contextmanager
def tracing(tracer: Tracer) -> Iterator[Tracer]:
    _active().append(tracer)
    try:
        yield tracer
    finally:
        _active().pop()


class _TracedOpcode:
    """An opcode that reports to the active tracer before and after it runs."""

    def __init__(self, opcode: Any) -> None:
        self.opcode = opcode
        self.mnemonic = getattr(opcode, "mnemonic", None) or opcode.__wrapped__.mnemonic  # some are wrapped
        self.gas_cost = getattr(opcode, "gas_cost", 0)

    def __call__(self, computation: ComputationAPI) -> None:
        stack = _active()
        if not stack:
            return self.opcode(computation=computation)
        tracer = stack[-1]
        tracer.before_opcode(computation, self.mnemonic)
        try:
            return self.opcode(computation=computation)
        finally:
            tracer.after_opcode(computation)


class TracedPragueComputation(PragueComputation):
    opcodes = {value: _TracedOpcode(opcode) for value, opcode in PragueComputation.opcodes.items()}

    @classmethod
    def apply_computation(
        cls,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        stack = _active()
        if not stack:
            return super().apply_computation(state, message, transaction_context, parent_computation)
        tracer = stack[-1]
        tracer.enter_frame(message)
        computation = super().apply_computation(state, message, transaction_context, parent_computation)
        tracer.exit_frame(computation)
        return computation

    @classmethod
    def apply_create_message(
        cls,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        computation = super().apply_create_message(state, message, transaction_context, parent_computation)
        stack = _active()
        if stack:
            stack[-1].created(computation)
        return computation


TracedPragueState = PragueState.configure(__name__="TracedPragueState", computation_class=TracedPragueComputation)
TracedPragueVM = L2PragueVM.configure(__name__="TracedPragueVM", _state_class=TracedPragueState)


def traced_chain(chain: Chain) -> Chain:
    """The same chain database, executed by the traced VM."""
    chain_class = chain.__class__.configure(
        __name__=f"Traced{chain.__class__.__name__}", vm_configuration=((0, TracedPragueVM),)
    )
    return chain_class(chain.chaindb.db)


def replay_until(chain: Chain, block: BlockAPI, index: int, tracer: Tracer) -> tuple[int, ComputationAPI]:
    """Re-execute `block` on its parent's state up to transaction `index`, tracing that one;
    (its gas used, its computation)."""
    traced = traced_chain(chain)
    parent = traced.get_block_header_by_hash(block.header.parent_hash)
    header = TracedPragueVM.create_header_from_parent(
        parent, timestamp=block.header.timestamp, coinbase=block.header.coinbase,
        gas_limit=block.header.gas_limit, mix_hash=block.header.mix_hash, extra_data=block.header.extra_data,
    )
    vm = traced.get_vm(header)
    limit_state(vm.state)
    vm.block_preprocessing(vm.get_block())
    for tx in block.transactions[:index]:
        receipt, _ = vm.apply_transaction(header, tx)
        header = vm.add_receipt_to_header(header, receipt)
    with tracing(tracer):
        receipt, computation = vm.apply_transaction(header, block.transactions[index])
    return receipt.gas_used - header.gas_used, computation


def struct_result(tracer: Tracer, gas_used: int, computation: ComputationAPI) -> dict[str, Any]:
    return {
        "gas": gas_used,
        "failed": computation.is_error,
        "returnValue": bytes(computation.output).hex(),
        "structLogs": tracer.struct_logs,
    }


def call_result(tracer: Tracer, gas_limit: int, gas_used: int) -> dict[str, Any]:
    root = dict(tracer.root or {})
    root["gas"], root["gasUsed"] = hex(gas_limit), hex(gas_used)
    return root
