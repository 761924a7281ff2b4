"""eth_call / eth_estimateGas on py-evm: the whole call object, state overrides, geth's answers.

A call runs as a py-evm transaction of the type its fields need (EIP-7702 with an
authorizationList, EIP-2930 with an accessList, legacy otherwise) on a throw-away "costless" state
(base fee 0, as geth's eth_call when no fee is given), so access lists, authorizations and the
Prague calldata floor (EIP-7623) cost what they cost on chain. The sender's nonce is taken from the
state, as geth skips nonce checks for calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth import constants
from eth._utils.address import generate_contract_address
from eth.abc import ComputationAPI, StateAPI, VirtualMachineAPI
from eth.exceptions import OutOfGas
from eth.vm.forks.prague.constants import MAGIC
from eth.vm.forks.prague.state import PragueTransactionExecutor
from eth.vm.spoof import SpoofTransaction
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError, to_canonical_address, to_checksum_address

from toolkit.l2.call_deadline import limit_state

TRANSFER_GAS = 21_000


class CallReverted(Exception):
    """A call reverted or failed in the EVM; `data` is the revert output."""

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message)
        self.data = data


class CallRefused(Exception):
    """A call that is not executed at all (geth's -32000 answers: funds, intrinsic gas, gas cap)."""


@dataclass(frozen=True)
class Authorization:
    """One signed EIP-7702 authorization tuple of a call's authorizationList."""

    chain_id: int
    address: str
    nonce: int
    y_parity: int
    r: int
    s: int

    def as_py_evm(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "address": to_canonical_address(self.address), "nonce": self.nonce,
                "y_parity": self.y_parity, "r": self.r, "s": self.s}


RPC_GAS_CAP = 50_000_000  # geth's --rpc.gascap: the most gas one eth_call may burn, whatever it asks


@dataclass(frozen=True)
class CallRequest:
    """The transaction object of eth_call / eth_estimateGas, parsed."""

    sender: str | None = None
    to: str | None = None
    gas: int | None = None
    value: int = 0
    data: bytes = b""
    access_list: tuple[tuple[str, tuple[int, ...]], ...] | None = None
    authorizations: tuple[Authorization, ...] | None = None
    fee_per_gas: int | None = None  # gasPrice or maxFeePerGas: the price the balance must cover

    @property
    def sender_bytes(self) -> bytes:
        return to_canonical_address(self.sender) if self.sender else constants.ZERO_ADDRESS


@dataclass(frozen=True)
class AccountOverride:
    """One account of eth_call's state-override set (geth's format)."""

    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    state: dict[int, int] | None = None  # replaces the whole storage
    state_diff: dict[int, int] = field(default_factory=dict)  # changes these slots only


StateOverrides = dict[str, AccountOverride]


def apply_overrides(state: StateAPI, overrides: StateOverrides) -> None:
    for address, override in overrides.items():
        account = to_canonical_address(address)
        if override.balance is not None:
            state.set_balance(account, override.balance)
        if override.nonce is not None:
            state.set_nonce(account, override.nonce)
        if override.code is not None:
            state.set_code(account, override.code)
        if override.state is not None:
            state.delete_storage(account)
            for slot, value in override.state.items():
                state.set_storage(account, slot, value)
        for slot, value in override.state_diff.items():
            state.set_storage(account, slot, value)


def build_transaction(
    vm: VirtualMachineAPI, state: StateAPI, request: CallRequest, gas: int, price: int = 0
) -> SpoofTransaction:
    """The unsigned py-evm transaction a call runs as (fees `price`, 0 for calls), sent from the request's sender."""
    builder = vm.get_transaction_builder()
    sender = request.sender_bytes
    to = to_canonical_address(request.to) if request.to else constants.CREATE_CONTRACT_ADDRESS
    nonce = state.get_nonce(sender)
    access_list = tuple((to_canonical_address(a), slots) for a, slots in request.access_list or ())
    chain_id = vm.chain_context.chain_id
    if request.authorizations is not None:
        if not request.to:
            raise CallRefused("set code transaction must not be a create transaction")
        unsigned: Any = builder.new_unsigned_set_code_transaction(
            chain_id, nonce, price, price, gas, to, request.value, request.data, access_list,
            [auth.as_py_evm() for auth in request.authorizations],
        )
    elif request.access_list is not None:
        unsigned = builder.new_unsigned_access_list_transaction(
            chain_id, nonce, price, gas, to, request.value, request.data, access_list
        )
    else:
        unsigned = builder.create_unsigned_transaction(
            nonce=nonce, gas_price=price, gas=gas, to=to, value=request.value, data=request.data
        )
    return SpoofTransaction(unsigned, from_=sender)


def floor_gas(tx: Any) -> int:
    """The EIP-7623 calldata floor of a transaction (py-evm's own Prague rule)."""
    return PragueTransactionExecutor.calc_data_floor_gas(tx, 0, 0)


def check_funds(state: StateAPI, request: CallRequest, gas: int) -> None:
    balance = state.get_balance(request.sender_bytes)
    want = request.value + gas * (request.fee_per_gas or 0)
    if balance < want:
        sender = to_checksum_address(request.sender_bytes)
        raise CallRefused(f"insufficient funds for gas * price + value: address {sender} have {balance} want {want}")


def check_gas(tx: Any, gas: int) -> None:
    """geth's pre-checks of a call's gas: intrinsic gas, then the EIP-7623 floor."""
    if gas < tx.intrinsic_gas:
        raise CallRefused(f"intrinsic gas too low: have {gas}, want {tx.intrinsic_gas}")
    if gas < floor_gas(tx):
        raise CallRefused(f"insufficient gas for floor data gas cost: have {gas}, want {floor_gas(tx)}")


@contextmanager
def call_state(vm: VirtualMachineAPI, overrides: StateOverrides) -> Iterator[StateAPI]:
    with vm.in_costless_state() as state:
        limit_state(state)  # the EVM stops at the request's time budget (runs in a call worker)
        apply_overrides(state, overrides)
        yield state


def execute(state: StateAPI, tx: SpoofTransaction) -> ComputationAPI:
    try:
        return state.apply_transaction(tx)
    except ValidationError as exc:
        raise CallRefused(str(exc)) from exc


def execute_call(
    vm: VirtualMachineAPI, request: CallRequest, overrides: StateOverrides, gas_cap: int
) -> tuple[ComputationAPI, int]:
    """Run a message call on a throw-away state; (its computation, the gas it used) or CallRefused."""
    gas = request.gas if request.gas is not None else gas_cap
    with call_state(vm, overrides) as state:
        check_funds(state, request, gas)
        tx = build_transaction(vm, state, request, gas)
        check_gas(tx, gas)
        computation = execute(state, tx)
    return computation, charged_gas(tx, gas, computation)


def charged_gas(tx: Any, gas: int, computation: ComputationAPI) -> int:
    """The gas a transaction is charged: used minus the capped refund, at least the EIP-7623 floor."""
    used = gas - computation.get_gas_remaining()
    return max(used - min(computation.get_gas_refund(), used // 5), floor_gas(tx))


def run_call(vm: VirtualMachineAPI, request: CallRequest, overrides: StateOverrides, gas_cap: int) -> bytes:
    """Run a message call; its output, or CallReverted / CallRefused."""
    computation, _ = execute_call(vm, request, overrides, gas_cap)
    if computation.is_error:
        raise reverted(computation)
    return bytes(computation.output)


def estimate(vm: VirtualMachineAPI, request: CallRequest, overrides: StateOverrides, gas_cap: int) -> int:
    """The smallest gas limit the call succeeds with (at least the EIP-7623 floor), as geth.

    The caller's `gas` caps the search; a call that fails at the cap answers "gas required
    exceeds allowance" (or the revert). The first run's gas use bounds the search from above.
    """
    high = request.gas if request.gas is not None and request.gas >= TRANSFER_GAS else gas_cap
    with call_state(vm, overrides) as state:
        if state.get_balance(request.sender_bytes) < request.value:
            raise CallRefused("insufficient funds for transfer")
        if request.fee_per_gas:
            available = state.get_balance(request.sender_bytes) - request.value
            high = min(high, available // request.fee_per_gas)
        probe = build_transaction(vm, state, request, high)
        low = max(probe.intrinsic_gas, floor_gas(probe)) - 1
        if high <= low:
            raise CallRefused(f"gas required exceeds allowance ({high})")

        def attempt(gas: int) -> ComputationAPI:
            snapshot = state.snapshot()
            try:
                return execute(state, build_transaction(vm, state, request, gas))
            finally:
                state.revert(snapshot)

        first = attempt(high)
        if first.is_error:
            if _is_revert(first):
                raise reverted(first)
            raise CallRefused(f"gas required exceeds allowance ({high})")
        used = high - first.get_gas_remaining()
        optimistic = min(high, max(used + first.get_gas_refund() + 2300, low + 1) * 64 // 63)
        if optimistic < high and not attempt(optimistic).is_error:
            high = optimistic
        while high - low > 1:
            middle = (low + high) // 2
            if attempt(middle).is_error:
                low = middle
            else:
                high = middle
        return high


def _is_revert(computation: ComputationAPI) -> bool:
    return bool(computation.output) or "Revert" in type(computation.error).__name__


def reverted(computation: ComputationAPI) -> CallReverted:
    error = computation.error
    output = bytes(computation.output) if computation.is_error and computation.output else b""
    if _is_revert(computation):
        message = "execution reverted"
    elif isinstance(error, OutOfGas):
        message = "out of gas"
    else:
        message = str(error) or type(error).__name__
    return CallReverted(message, output)


PRECOMPILES = {i.to_bytes(20, "big") for i in range(1, 0x12)}


def _record_accesses(state: StateAPI) -> dict[bytes, set[int]]:
    """Record every address and slot the EVM warms on this (throw-away) state."""
    touched: dict[bytes, set[int]] = {}
    mark_address, mark_slot = state.mark_address_warm, state.mark_storage_warm

    def address_warm(address: Any) -> None:
        touched.setdefault(bytes(address), set())
        mark_address(address)

    def storage_warm(address: Any, slot: int) -> None:
        touched.setdefault(bytes(address), set()).add(slot)
        mark_slot(address, slot)

    state.mark_address_warm = address_warm  # type: ignore[method-assign]
    state.mark_storage_warm = storage_warm  # type: ignore[method-assign]
    return touched


def authorities(request: CallRequest, chain_id: int) -> set[bytes]:
    """The accounts the call's EIP-7702 authorizations sign for (geth's rule: chain id 0 or this chain,
    a nonce below 2**64 - 1, a signature that recovers); geth leaves them out of access lists."""
    found = set()
    for auth in request.authorizations or ():
        if auth.chain_id not in (0, chain_id) or auth.nonce >= 2**64 - 1:
            continue
        message = MAGIC + rlp.encode([auth.chain_id, to_canonical_address(auth.address), auth.nonce])
        try:
            signature = keys.Signature(vrs=(auth.y_parity, auth.r, auth.s))
            found.add(signature.recover_public_key_from_msg(message).to_canonical_address())
        except (BadSignature, ValidationError, ValueError):
            continue
    return found


def create_access_list(
    vm: VirtualMachineAPI, request: CallRequest, overrides: StateOverrides, gas_cap: int
) -> tuple[tuple[tuple[str, tuple[int, ...]], ...], int, str | None]:
    """geth's eth_createAccessList: the addresses and slots the call touches (sender, recipient,
    precompiles and EIP-7702 authorities excluded), re-run with that list until it is stable; (list, gasUsed, error)."""
    gas = request.gas if request.gas is not None else gas_cap
    current = tuple(request.access_list or ())
    excluded = {request.sender_bytes} | PRECOMPILES | authorities(request, vm.chain_context.chain_id)
    if request.to:
        excluded.add(to_canonical_address(request.to))
    for _ in range(8):
        attempt = CallRequest(**{**request.__dict__, "access_list": current, "gas": gas})
        with call_state(vm, overrides) as state:
            check_funds(state, attempt, gas)
            tx = build_transaction(vm, state, attempt, gas)
            check_gas(tx, gas)
            excluded.add(bytes(state.coinbase))  # warmed by the fork's rules, not by the call
            if not request.to:
                excluded.add(generate_contract_address(request.sender_bytes, state.get_nonce(request.sender_bytes)))
            touched = _record_accesses(state)
            computation = execute(state, tx)
        found = tuple(
            (to_checksum_address(address), tuple(sorted(slots)))
            for address, slots in sorted(touched.items())
            if address not in excluded
        )
        used = gas - computation.get_gas_remaining()
        refund = min(computation.get_gas_refund(), used // 5)
        gas_used = max(used - refund, floor_gas(tx))
        error = reverted(computation) if computation.is_error else None
        if found == current:
            return found, gas_used, str(error) if error else None
        current = found
    return current, gas_used, str(error) if error else None
