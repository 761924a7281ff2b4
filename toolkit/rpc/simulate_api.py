"""eth_simulateV1 (execution-apis): parameters parsed and checked, results in the spec's shape."""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI
from eth_utils import to_checksum_address

from toolkit.l2.simulate import (
    MAX_BLOCKS,
    BlockOverrides,
    BlockStateCall,
    CallOutcome,
    SimCall,
    SimulatedBlock,
    SimulationRefused,
    simulate,
)
from toolkit.rpc import params as p
from toolkit.rpc.errors import RpcError, invalid_params
from toolkit.rpc.formatters import data, format_header, qty
from toolkit.rpc.offload import off_loop
from toolkit.rpc.server import Handler

BLOCK_FIELDS = {"number", "time", "gasLimit", "feeRecipient", "prevRandao", "baseFeePerGas", "withdrawals", "blobBaseFee"}
PAYLOAD_FIELDS = {"blockStateCalls", "validation", "traceTransfers", "returnFullTransactions"}


def _flag(payload: dict[str, Any], name: str) -> bool:
    value = payload.get(name, False)
    if not isinstance(value, bool):
        raise invalid_params(f"{name} must be a boolean")
    return value


def _block_overrides(value: Any) -> BlockOverrides:
    if value is None:
        return BlockOverrides()
    if not isinstance(value, dict) or set(value) - BLOCK_FIELDS:
        raise invalid_params(f"blockOverrides must be an object of {sorted(BLOCK_FIELDS)}")
    if value.get("withdrawals"):
        raise invalid_params("blockOverrides.withdrawals are not supported: the L2 has no withdrawals")
    if value.get("blobBaseFee") is not None:
        raise invalid_params("blockOverrides.blobBaseFee is not supported: the L2 has no blobs")

    def get(name: str, parse: Any, *args: Any) -> Any:
        return parse(value[name], name, *args) if value.get(name) is not None else None

    return BlockOverrides(
        number=get("number", p.quantity), time=get("time", p.quantity), gas_limit=get("gasLimit", p.quantity),
        fee_recipient=bytes.fromhex(p.address(value["feeRecipient"], "feeRecipient")[2:]) if value.get("feeRecipient") else None,
        prev_randao=get("prevRandao", p.hex_bytes, 32), base_fee=get("baseFeePerGas", p.quantity),
    )


def _call(value: Any) -> SimCall:
    request = p.call_object(value)
    nonce = value.get("nonce")
    return SimCall(request, p.quantity(nonce, "nonce") if nonce is not None else None)


def _block_state_call(value: Any) -> BlockStateCall:
    if not isinstance(value, dict) or set(value) - {"blockOverrides", "stateOverrides", "calls"}:
        raise invalid_params("a blockStateCall is an object of blockOverrides, stateOverrides, calls")
    calls = value.get("calls") or []
    if not isinstance(calls, list):
        raise invalid_params("calls must be an array of transaction objects")
    return BlockStateCall(
        _block_overrides(value.get("blockOverrides")), p.state_overrides(value.get("stateOverrides")),
        tuple(_call(c) for c in calls),
    )


def parse_payload(value: Any) -> tuple[list[BlockStateCall], bool, bool]:
    """(blocks, validation, returnFullTransactions) of an eth_simulateV1 payload."""
    if not isinstance(value, dict) or set(value) - PAYLOAD_FIELDS:
        raise invalid_params(f"the simulation payload is an object of {sorted(PAYLOAD_FIELDS)}")
    blocks = value.get("blockStateCalls")
    if not isinstance(blocks, list) or not blocks:
        raise invalid_params("blockStateCalls must be a non-empty array")
    if len(blocks) > MAX_BLOCKS:
        raise RpcError(-38026, f"too many blocks: more than {MAX_BLOCKS}")
    if _flag(value, "traceTransfers"):
        raise invalid_params("traceTransfers is not supported by this node")
    return [_block_state_call(b) for b in blocks], _flag(value, "validation"), _flag(value, "returnFullTransactions")


def _logs(header: Any, outcome: CallOutcome, index: int, first: int) -> list[dict[str, Any]]:
    return [
        {"address": to_checksum_address(address), "topics": [f"0x{t:064x}" for t in topics], "data": data(payload),
         "blockNumber": qty(header.block_number), "blockHash": data(header.hash),
         "blockTimestamp": qty(header.timestamp), "transactionHash": data(outcome.tx_hash),
         "transactionIndex": qty(index), "logIndex": qty(first + offset), "removed": False}
        for offset, (address, topics, payload) in enumerate(outcome.logs)
    ]


def _call_result(header: Any, outcome: CallOutcome, index: int, first_log: int) -> dict[str, Any]:
    result: dict[str, Any] = {"status": "0x0" if outcome.error else "0x1", "returnData": data(outcome.return_data),
                              "gasUsed": qty(outcome.gas_used)}
    if outcome.error is None:
        result["logs"] = _logs(header, outcome, index, first_log)
        return result
    code, message = outcome.error
    result["error"] = {"code": code, "message": message}
    if code == 3:
        result["error"]["data"] = data(outcome.return_data)
    result["logs"] = []
    return result


def _transaction(header: Any, outcome: CallOutcome, index: int) -> dict[str, Any]:
    """The simulated call as an (unsigned: r = s = 0) EIP-1559 transaction object, as geth shows it."""
    request = outcome.request
    return {
        "type": "0x2", "hash": data(outcome.tx_hash), "nonce": qty(outcome.nonce),
        "blockHash": data(header.hash), "blockNumber": qty(header.block_number),
        "blockTimestamp": qty(header.timestamp), "transactionIndex": qty(index),
        "from": to_checksum_address(outcome.sender), "to": request.to, "value": qty(request.value),
        "gas": qty(outcome.gas), "input": data(request.data), "chainId": qty(0), "accessList": [],
        "maxFeePerGas": qty(request.fee_per_gas or 0), "maxPriorityFeePerGas": qty(0),
        "gasPrice": qty(header.base_fee_per_gas), "yParity": "0x0", "v": "0x0", "r": "0x0", "s": "0x0",
    }


def format_simulated(block: SimulatedBlock, full_transactions: bool) -> dict[str, Any]:
    header = block.header
    result = format_header(header, 0)
    result["size"] = qty(len(header.encode()) if hasattr(header, "encode") else 0)
    result["transactions"] = [
        _transaction(header, outcome, i) if full_transactions else data(outcome.tx_hash)
        for i, outcome in enumerate(block.calls)
    ]
    result["uncles"], result["withdrawals"], calls, first_log = [], [], [], 0
    for index, outcome in enumerate(block.calls):
        calls.append(_call_result(header, outcome, index, first_log))
        first_log += len(outcome.logs) if outcome.error is None else 0
    result["calls"] = calls
    return result


class SimulateApi:
    def __init__(self, eth: Any) -> None:
        self.eth = eth  # the node's EthApi: block resolution and the executor

    def methods(self) -> dict[str, Handler]:
        return {"eth_simulateV1": self.eth_simulateV1}

    async def eth_simulateV1(self, params: list[Any]) -> list[dict[str, Any]]:
        p.expect_count(params, 2)
        blocks, validation, full = parse_payload(p.arg(params, 0, "payload"))
        base = self.eth.resolve_header(p.arg(params, 1, "block", "latest"))
        try:
            simulated = await off_loop(_simulate, self.eth.executor.chain, base, blocks, validation)
        except SimulationRefused as exc:
            raise RpcError(exc.code, str(exc)) from exc
        return [format_simulated(block, full) for block in simulated]


def _simulate(chain: Any, base: BlockHeaderAPI, blocks: list[BlockStateCall], validation: bool) -> list[SimulatedBlock]:
    """The simulation on a VM of its own (runs in a call worker thread, as eth_call does)."""
    return simulate(chain.get_vm(base), base, blocks, validation)
