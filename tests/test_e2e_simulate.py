"""eth_simulateV1 through the gateway: web3.py raw requests (block and state overrides, state carried
from block to block, logs, reverts, validation, full transactions), bad input, and viem's
simulateBlocks / simulateCalls."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import REPO_ROOT

SENDER = dev_accounts(10)[5].address
EMITTER = "0x00000000000000000000000000000000000E0001"
REVERTER = "0x00000000000000000000000000000000000E0002"
READER = "0x00000000000000000000000000000000000E0003"
FRESH = "0x00000000000000000000000000000000000E0004"
EMITS = "0x602a60005260206000a060206000f3"  # LOG0 of the word 42, then return it
REVERTS = "0x61dead60005260206000fd"  # revert with the word 0xdead
# return NUMBER, TIMESTAMP, COINBASE, BASEFEE, PREVRANDAO, GASLIMIT as six words
READS_BLOCK = "0x436000524260205241604052486060524460805245" + "60a05260c06000f3"
ETHER = 10**18


@pytest.fixture(scope="module")
def w3(devnet: Devnet) -> Web3:
    return Web3(HTTPProvider(devnet.gateway_url, request_kwargs={"timeout": 60}))


def simulate(w3: Web3, payload: Any, block: Any = "latest") -> Any:
    return w3.provider.make_request("eth_simulateV1", [payload, block])  # type: ignore[arg-type]


def words(hex_data: str) -> list[int]:
    raw = bytes.fromhex(hex_data[2:])
    return [int.from_bytes(raw[i:i + 32], "big") for i in range(0, len(raw), 32)]


def test_simulate_blocks_with_overrides(w3: Web3) -> None:
    head = w3.eth.get_block("latest")
    coinbase, randao = "0x" + "ab" * 20, "0x" + "cd" * 32
    reply = simulate(w3, {
        "blockStateCalls": [
            {
                "blockOverrides": {"number": hex(head["number"] + 10), "time": hex(head["timestamp"] + 100),
                                   "gasLimit": hex(40_000_000), "feeRecipient": coinbase, "prevRandao": randao,
                                   "baseFeePerGas": "0x7"},
                "stateOverrides": {EMITTER: {"code": EMITS}, REVERTER: {"code": REVERTS}, READER: {"code": READS_BLOCK},
                                   SENDER: {"balance": hex(10 * ETHER)}},
                "calls": [{"from": SENDER, "to": EMITTER}, {"from": SENDER, "to": REVERTER},
                          {"from": SENDER, "to": READER}, {"from": SENDER, "to": FRESH, "value": hex(ETHER)}],
            },
            {"calls": [{"from": FRESH, "to": SENDER, "value": hex(ETHER // 2)}, {"from": SENDER, "to": READER}]},
        ],
    }, hex(head["number"]))  # on the block just read, whatever the head is by then
    assert "error" not in reply, reply
    *skipped, first, second = reply["result"]
    # the numbers the first block skips come back as empty blocks, as geth's
    assert [int(b["number"], 16) for b in skipped] == list(range(head["number"] + 1, head["number"] + 10))
    assert all(b["calls"] == [] and b["transactions"] == [] for b in skipped)
    assert skipped[0]["parentHash"] == head["hash"].to_0x_hex() and first["parentHash"] == skipped[-1]["hash"]
    emitted, reverted, read, sent = first["calls"]
    assert emitted["status"] == "0x1" and words(emitted["returnData"]) == [42]
    assert [log["data"] for log in emitted["logs"]] == ["0x" + f"{42:064x}"]
    assert emitted["logs"][0]["address"] == EMITTER and emitted["logs"][0]["blockHash"] == first["hash"]
    assert reverted["status"] == "0x0" and words(reverted["returnData"]) == [0xDEAD]
    assert reverted["error"] == {"code": 3, "message": "execution reverted", "data": reverted["returnData"]}
    number, time, miner, base_fee, prev_randao, gas_limit = words(read["returnData"])
    assert (number, time, base_fee, gas_limit) == (head["number"] + 10, head["timestamp"] + 100, 7, 40_000_000)
    assert miner == int(coinbase, 16) and prev_randao == int(randao, 16)
    assert sent["status"] == "0x1" and int(sent["gasUsed"], 16) == 21_000
    assert int(first["number"], 16) == head["number"] + 10 and first["miner"].lower() == coinbase
    # the next block: one more, a second later, on the first one's state (FRESH holds its ether)
    assert second["parentHash"] == first["hash"] and int(second["number"], 16) == head["number"] + 11
    assert [c["status"] for c in second["calls"]] == ["0x1", "0x1"]
    assert words(second["calls"][1]["returnData"])[:2] == [head["number"] + 11, head["timestamp"] + 101]
    assert len(second["transactions"]) == 2 and all(isinstance(t, str) for t in second["transactions"])
    # nothing was written
    assert w3.eth.get_balance(Web3.to_checksum_address(FRESH)) == 0


def test_simulate_validation_and_full_transactions(w3: Web3) -> None:
    head = w3.eth.get_block("latest")
    base_fee, at = head["baseFeePerGas"], hex(head["number"])
    nonce = w3.eth.get_transaction_count(SENDER, head["number"])
    call = {"from": SENDER, "to": FRESH, "value": "0x1", "maxFeePerGas": hex(base_fee * 2 + 1)}
    ok = simulate(w3, {"validation": True, "returnFullTransactions": True,
                       "blockStateCalls": [{"calls": [{**call, "nonce": hex(nonce)}, call]}]}, at)
    assert "error" not in ok, ok
    block = ok["result"][0]
    assert [c["status"] for c in block["calls"]] == ["0x1", "0x1"]
    assert [t["nonce"] for t in block["transactions"]] == [hex(nonce), hex(nonce + 1)]
    assert block["transactions"][0]["from"] == SENDER and int(block["baseFeePerGas"], 16) > 0
    too_high = simulate(w3, {"validation": True, "blockStateCalls": [{"calls": [{**call, "nonce": hex(nonce + 5)}]}]}, at)
    assert too_high["error"]["code"] == -38011 and "nonce too high" in too_high["error"]["message"]
    cheap = simulate(w3, {"validation": True, "blockStateCalls": [{"calls": [{**call, "maxFeePerGas": "0x0"}]}]}, at)
    assert cheap["error"]["code"] == -38012


@pytest.mark.parametrize("payload", [
    "not an object",
    {"blockStateCalls": []},
    {"blockStateCalls": [{"calls": "nope"}]},
    {"blockStateCalls": [{"calls": [{"to": "0x1234"}]}]},
    {"blockStateCalls": [{"blockOverrides": {"withdrawals": [{"index": "0x0"}]}}]},
    {"blockStateCalls": [{"calls": []}], "traceTransfers": True},
    {"blockStateCalls": [{"calls": []}], "validation": "yes"},
])
def test_simulate_refuses_bad_input(w3: Web3, payload: Any) -> None:
    assert simulate(w3, payload)["error"]["code"] == -32602


def test_simulate_refuses_blocks_out_of_order(w3: Web3) -> None:
    head = w3.eth.get_block("latest")["number"]
    reply = simulate(w3, {"blockStateCalls": [{"blockOverrides": {"number": hex(head + 5)}},
                                              {"blockOverrides": {"number": hex(head + 5)}}]})
    assert reply["error"]["code"] == -38020


def test_viem_simulate_blocks_and_calls(devnet: Devnet) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required (./dev setup uses npm)"
    result = subprocess.run([node, "tests/js/simulate.cjs", devnet.gateway_url, SENDER],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["number"] == 1 and report["timestamp"] == 60 and report["blocks"] == 1
    assert report["ok"] == {**report["ok"], "status": "success", "data": "0x" + f"{42:064x}", "logs": 1}
    assert report["bad"]["status"] == "failure" and report["bad"]["data"] == "0x" + f"{0xDEAD:064x}"
    assert report["simulateCalls"] == {"status": "success", "data": "0x" + f"{42:064x}"}
