"""Parsing and checking JSON-RPC parameters; every failure is an 'invalid params' error."""

from __future__ import annotations

from typing import Any

from eth_utils import is_address, to_checksum_address

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


def call_object(value: Any) -> dict[str, Any]:
    """An eth_call / eth_estimateGas transaction object, normalised."""
    if not isinstance(value, dict):
        raise invalid_params("transaction object expected")
    call: dict[str, Any] = {}
    if value.get("from"):
        call["from"] = address(value["from"], "from")
    if value.get("to"):
        call["to"] = address(value["to"], "to")
    if value.get("gas") is not None:
        call["gas"] = quantity(value["gas"], "gas")
    if value.get("value") is not None:
        call["value"] = quantity(value["value"], "value")
    payload = value.get("input", value.get("data"))
    if value.get("input") is not None and value.get("data") is not None and value["input"] != value["data"]:
        raise invalid_params("both 'data' and 'input' are set and differ")
    call["data"] = hex_bytes(payload, "input") if payload else b""
    return call
