"""eth_simulateV1 on py-evm: calls in a chain of simulated blocks on top of a real one, as geth.

Each block of the request gets its own execution context (number, time, gas limit, fee recipient,
prevRandao, base fee, overridable) and its state overrides; state carries over from call to call
and block to block. Calls are executed by toolkit/l2/calls.py as eth_call executes them. Without
`validation` fees are 0 (base fee 0 unless overridden), as geth; with it, the call's nonce, its
fee against the base fee and the sender's funds are checked and fees are charged. Nothing is
written: the state is built on the node's database and dropped (no persist()).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth.abc import BlockHeaderAPI, ComputationAPI, StateAPI, VirtualMachineAPI
from eth.constants import BLANK_ROOT_HASH
from eth.exceptions import OutOfGas
from eth_utils import keccak

from toolkit.l2.call_deadline import limit_state
from toolkit.l2.calls import (
    RPC_GAS_CAP,
    CallRefused,
    CallRequest,
    StateOverrides,
    apply_overrides,
    build_transaction,
    charged_gas,
    check_gas,
    execute,
)

MAX_BLOCKS = 256  # geth's limit on blocks (including the skipped ones) of one simulation


class SimulationRefused(Exception):
    """The whole request is refused (geth answers with a top-level error and its -380xx code)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BlockOverrides:
    number: int | None = None
    time: int | None = None
    gas_limit: int | None = None
    fee_recipient: bytes | None = None
    prev_randao: bytes | None = None
    base_fee: int | None = None


@dataclass(frozen=True)
class SimCall:
    request: CallRequest
    nonce: int | None = None  # checked against the state with validation


@dataclass(frozen=True)
class BlockStateCall:
    block: BlockOverrides = BlockOverrides()
    state: StateOverrides = field(default_factory=dict)
    calls: tuple[SimCall, ...] = ()


@dataclass(frozen=True)
class CallOutcome:
    request: CallRequest
    sender: bytes
    nonce: int
    gas: int
    tx_hash: bytes
    gas_used: int
    return_data: bytes
    logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]
    error: tuple[int, str] | None  # (code, message): 3 for reverts, -32015 for other VM errors


@dataclass(frozen=True)
class SimulatedBlock:
    header: BlockHeaderAPI
    calls: tuple[CallOutcome, ...]


def _block_header(parent: BlockHeaderAPI, template: BlockHeaderAPI, overrides: BlockOverrides,
                  validation: bool) -> BlockHeaderAPI:
    number = overrides.number if overrides.number is not None else parent.block_number + 1
    time = overrides.time if overrides.time is not None else parent.timestamp + 1
    if number <= parent.block_number:
        raise SimulationRefused(-38020, f"block numbers must be in order: {number} <= {parent.block_number}")
    if time < parent.timestamp:
        raise SimulationRefused(-38021, f"block timestamps must be in order: {time} < {parent.timestamp}")
    default_fee = template.base_fee_per_gas if validation else 0
    return template.copy(
        parent_hash=parent.hash,
        block_number=number,
        timestamp=time,
        gas_limit=overrides.gas_limit if overrides.gas_limit is not None else template.gas_limit,
        coinbase=overrides.fee_recipient if overrides.fee_recipient is not None else template.coinbase,
        mix_hash=overrides.prev_randao if overrides.prev_randao is not None else template.mix_hash,
        base_fee_per_gas=overrides.base_fee if overrides.base_fee is not None else default_fee,
        gas_used=0,
    )


def _validate(state: StateAPI, call: SimCall, header: BlockHeaderAPI, gas: int) -> int:
    """geth's checks with validation on; the price the call pays."""
    sender = call.request.sender_bytes
    expected = state.get_nonce(sender)
    if call.nonce is not None and call.nonce < expected:
        raise SimulationRefused(-38010, f"nonce too low: address {sender.hex()}, tx: {call.nonce} state: {expected}")
    if call.nonce is not None and call.nonce > expected:
        raise SimulationRefused(-38011, f"nonce too high: address {sender.hex()}, tx: {call.nonce} state: {expected}")
    price = call.request.fee_per_gas if call.request.fee_per_gas is not None else header.base_fee_per_gas
    if price < header.base_fee_per_gas:
        raise SimulationRefused(
            -38012, f"max fee per gas less than block base fee: maxFeePerGas: {price}, baseFee: {header.base_fee_per_gas}"
        )
    want = call.request.value + gas * price
    if state.get_balance(sender) < want:
        raise SimulationRefused(-38014, f"insufficient funds for gas * price + value: have {state.get_balance(sender)} want {want}")
    return price


def _vm_error(computation: ComputationAPI) -> tuple[int, str] | None:
    if not computation.is_error:
        return None
    error = computation.error
    if computation.output or "Revert" in type(error).__name__:
        return 3, "execution reverted"
    detail = "out of gas" if isinstance(error, OutOfGas) else (str(error) or type(error).__name__)
    return -32015, f"vm execution error: {detail}"


def _refusal(exc: CallRefused) -> SimulationRefused:
    message = str(exc)
    if "intrinsic gas" in message or "floor data gas" in message:
        return SimulationRefused(-38013, message)
    if "insufficient funds" in message or "Sender does not have enough balance" in message:
        return SimulationRefused(-38014, message)
    return SimulationRefused(-32000, message)


def _run_call(vm: VirtualMachineAPI, state: StateAPI, header: BlockHeaderAPI, call: SimCall,
              gas_left: int, validation: bool) -> CallOutcome:
    request = call.request
    gas = request.gas if request.gas is not None else gas_left
    if gas > gas_left:
        raise SimulationRefused(-38015, f"block gas limit reached: {gas} > {gas_left} left (block or simulation)")
    price = _validate(state, call, header, gas) if validation else 0
    sender = request.sender_bytes
    nonce = state.get_nonce(sender)
    try:
        tx = build_transaction(vm, state, request, gas, price)
        check_gas(tx, gas)
        computation = execute(state, tx)
    except CallRefused as exc:
        raise _refusal(exc) from exc
    tx_hash = keccak(rlp.encode([sender, nonce, request.to or b"", request.value, request.data, gas, header.block_number]))
    return CallOutcome(
        request=request, sender=sender, nonce=nonce, gas=gas, tx_hash=tx_hash,
        gas_used=charged_gas(tx, gas, computation),
        return_data=bytes(computation.output),
        logs=tuple((bytes(a), tuple(t), bytes(d)) for a, t, d in computation.get_log_entries()),
        error=_vm_error(computation),
    )


def _run_block(vm: VirtualMachineAPI, state: StateAPI, header: BlockHeaderAPI, block: BlockStateCall,
               validation: bool, budget: int) -> SimulatedBlock:
    """The block's calls, each given at most the block's gas left and the simulation's `budget` left."""
    apply_overrides(state, block.state)
    outcomes = []
    gas_left = header.gas_limit
    for call in block.calls:
        outcome = _run_call(vm, state, header, call, min(gas_left, budget), validation)
        gas_left -= outcome.gas_used
        budget -= outcome.gas_used
        outcomes.append(outcome)
    sealed = header.copy(
        gas_used=header.gas_limit - gas_left,
        state_root=state.make_state_root(),
        transaction_root=BLANK_ROOT_HASH if not outcomes else keccak(b"".join(o.tx_hash for o in outcomes)),
    )
    return SimulatedBlock(sealed, tuple(outcomes))


def _simulation_state(vm: VirtualMachineAPI, template: BlockHeaderAPI, previous_hashes: list[Any]) -> Any:
    """A state of the VM's class whose BASEFEE opcode answers `reported_base_fee`: without validation
    the execution context's base fee is 0 (calls pay nothing, as geth's NoBaseFee) while the block
    shows, and BASEFEE reads, the overridden one."""
    base_class: Any = vm.get_state_class()

    class SimulatedState(base_class):  # type: ignore[misc, valid-type]
        reported_base_fee = 0

        @property
        def base_fee(self) -> int:
            return self.reported_base_fee

    context = vm.create_execution_context(template, previous_hashes, vm.chain_context)
    return limit_state(SimulatedState(vm.chaindb.db, context, template.state_root))


def _enter_block(vm: VirtualMachineAPI, state: Any, header: BlockHeaderAPI, previous_hashes: list[Any],
                 validation: bool) -> None:
    charged = header if validation else header.copy(base_fee_per_gas=0)
    state.execution_context = vm.create_execution_context(charged, previous_hashes, vm.chain_context)
    state.reported_base_fee = header.base_fee_per_gas


def _gap_fillers(parent: BlockHeaderAPI, target: BlockOverrides) -> list[BlockStateCall]:
    """Empty blocks for the numbers a block skips (geth fills them too), a second apart but never
    later than the block's own time."""
    if target.number is None:
        return []
    fillers, time = [], parent.timestamp
    for number in range(parent.block_number + 1, target.number):
        time = time + 1 if target.time is None else min(time + 1, target.time)
        fillers.append(BlockStateCall(BlockOverrides(number=number, time=time)))
    return fillers


def simulate(vm: VirtualMachineAPI, base: BlockHeaderAPI, blocks: list[BlockStateCall],
             validation: bool) -> list[SimulatedBlock]:
    """Run the blocks on top of `base` (vm is the chain's VM at `base`); never persisted.
    Skipped block numbers come back as empty blocks, as geth's."""
    template = vm.generate_block_from_parent_header_and_coinbase(base, base.coinbase).header
    previous_hashes = [base.hash, *itertools.islice(vm.previous_hashes, 255)]
    state = _simulation_state(vm, template, previous_hashes)
    results: list[SimulatedBlock] = []
    parent, budget = base, RPC_GAS_CAP  # geth's --rpc.gascap bounds the whole simulation, not each call
    for requested in blocks:
        _block_header(parent, template, requested.block, validation)  # order checks before filling
        if (requested.block.number or parent.block_number + 1) - base.block_number > MAX_BLOCKS:
            raise SimulationRefused(-38026, f"too many blocks: more than {MAX_BLOCKS}")
        for block in [*_gap_fillers(parent, requested.block), requested]:
            header = _block_header(parent, template, block.block, validation)
            _enter_block(vm, state, header, previous_hashes, validation)
            simulated = _run_block(vm, state, header, block, validation, budget)
            budget -= simulated.header.gas_used
            results.append(simulated)
            previous_hashes.insert(0, simulated.header.hash)
            parent = simulated.header
    return results
