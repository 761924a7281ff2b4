"""Parsing and checking JSON-RPC parameters; every failure is an 'invalid params' error."""

from __future__ import annotations

from typing import Any

from eth_utils import is_address, to_checksum_address

from toolkit.l2.calls import RPC_GAS_CAP, AccountOverride, Authorization, CallRequest, StateOverrides
from toolkit.rpc.errors import invalid_params


def arg(params: list[Any], index: int, name: str, default: Any = ...) -> Any:
    if index < len(params) and params[index] is not None:
        return params[index]
    if default is ...:
        raise invalid_params(f"missing value for required argument {index} ({name})")
    return default


def expect_count(params: list[Any], most: int) -> None:
    if len(params) > most:
        raise invalid_params(f"too many arguments, want at most {most}")


def quantity(value: Any, name: str = "quantity") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.startswith("0x") and len(value) > 2:
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise invalid_params(f"{name} must be a hex quantity, got {value!r}")


def hex_bytes(value: Any, name: str = "data", length: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise invalid_params(f"{name} must be 0x-prefixed hex, got {str(value)[:80]!r}")
    try:
        decoded = bytes.fromhex(value[2:])
    except ValueError as exc:
        raise invalid_params(f"{name} is not valid hex") from exc
    if length is not None and len(decoded) != length:
        raise invalid_params(f"{name} must be {length} bytes, got {len(decoded)}")
    return decoded


def address(value: Any, name: str = "address") -> str:
    if not isinstance(value, str) or not is_address(value):
        raise invalid_params(f"{name} must be a 20-byte address, got {value!r}")
    return to_checksum_address(value)


def call_object(value: Any) -> CallRequest:
    """An eth_call / eth_estimateGas transaction object, parsed (every field geth reads)."""
    if not isinstance(value, dict):
        raise invalid_params("transaction object expected")
    payload = value.get("input", value.get("data"))
    if value.get("input") is not None and value.get("data") is not None and value["input"] != value["data"]:
        raise invalid_params("both 'data' and 'input' are set and differ")
    if value.get("gasPrice") is not None and (
        value.get("maxFeePerGas") is not None or value.get("maxPriorityFeePerGas") is not None
    ):
        raise invalid_params("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
    fee = value.get("gasPrice", value.get("maxFeePerGas"))
    access_list = value.get("accessList")
    authorizations = value.get("authorizationList")
    return CallRequest(
        sender=address(value["from"], "from") if value.get("from") else None,
        to=address(value["to"], "to") if value.get("to") else None,
        # geth's --rpc.gascap: a call burns at most RPC_GAS_CAP whatever it asks
        gas=min(quantity(value["gas"], "gas"), RPC_GAS_CAP) if value.get("gas") is not None else None,
        value=quantity(value["value"], "value") if value.get("value") is not None else 0,
        data=hex_bytes(payload, "input") if payload else b"",
        access_list=_access_list(access_list) if access_list is not None else None,
        authorizations=_authorizations(authorizations) if authorizations is not None else None,
        fee_per_gas=quantity(fee, "gasPrice") if fee is not None else None,
    )


def _access_list(value: Any) -> tuple[tuple[str, tuple[int, ...]], ...]:
    if not isinstance(value, list):
        raise invalid_params("accessList must be an array")
    entries = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("storageKeys", []), list):
            raise invalid_params("accessList entries are {address, storageKeys}")
        keys = tuple(int.from_bytes(hex_bytes(k, "storageKey", 32), "big") for k in entry.get("storageKeys") or [])
        entries.append((address(entry.get("address"), "accessList address"), keys))
    return tuple(entries)


def _authorizations(value: Any) -> tuple[Authorization, ...]:
    if not isinstance(value, list):
        raise invalid_params("authorizationList must be an array")
    parsed = []
    for entry in value:
        if not isinstance(entry, dict):
            raise invalid_params("authorizationList entries are objects")
        y_parity = entry.get("yParity", entry.get("v"))
        parsed.append(
            Authorization(
                chain_id=quantity(entry.get("chainId"), "authorization chainId"),
                address=address(entry.get("address"), "authorization address"),
                nonce=quantity(entry.get("nonce"), "authorization nonce"),
                y_parity=quantity(y_parity, "authorization yParity"),
                r=quantity(entry.get("r"), "authorization r"),
                s=quantity(entry.get("s"), "authorization s"),
            )
        )
    return tuple(parsed)


def state_overrides(value: Any) -> StateOverrides:
    """eth_call's third parameter: {address: {balance, nonce, code, state | stateDiff}} (geth's format)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_params("state overrides must be an object keyed by address")
    overrides: StateOverrides = {}
    for key, entry in value.items():
        account = address(key, "state override address")
        if not isinstance(entry, dict):
            raise invalid_params(f"state override of {account} must be an object")
        unknown = set(entry) - {"balance", "nonce", "code", "state", "stateDiff"}
        if unknown:
            raise invalid_params(f"state override of {account}: unsupported field(s) {sorted(unknown)}")
        if entry.get("state") is not None and entry.get("stateDiff") is not None:
            raise invalid_params(f"account {account} has both 'state' and 'stateDiff'")
        overrides[account] = AccountOverride(
            balance=quantity(entry["balance"], "balance") if entry.get("balance") is not None else None,
            nonce=quantity(entry["nonce"], "nonce") if entry.get("nonce") is not None else None,
            code=hex_bytes(entry["code"], "code") if entry.get("code") is not None else None,
            state=_slots(entry["state"]) if entry.get("state") is not None else None,
            state_diff=_slots(entry.get("stateDiff") or {}),
        )
    return overrides


def _slots(value: Any) -> dict[int, int]:
    if not isinstance(value, dict):
        raise invalid_params("storage overrides must be an object of 32-byte slot -> value")
    return {
        int.from_bytes(hex_bytes(slot, "storage slot", 32), "big"): int.from_bytes(hex_bytes(word, "storage value", 32), "big")
        for slot, word in value.items()
    }
