"""eth_call / eth_estimateGas take the whole call object and answer as geth; eth_getLogs ranges as geth.

Against the session devnet's sequencer over HTTP, with web3.py doing the work a client does.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3RPCError

from toolkit.accounts import dev_accounts

SENDER, OTHER = dev_accounts(10)[3], dev_accounts(10)[4]
SLOT0 = "0x" + "00" * 32


def rpc(url: str, method: str, *params: Any) -> dict[str, Any]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def send(w3: Web3, tx: dict[str, Any], key: str = SENDER.private_key) -> Any:
    sender = Account.from_key(key).address
    tx = {"chainId": 901, "nonce": w3.eth.get_transaction_count(sender, "pending"),
          "maxFeePerGas": w3.eth.gas_price * 2, "maxPriorityFeePerGas": w3.eth.max_priority_fee, **tx}
    tx_hash = w3.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.1)


@pytest.fixture(scope="module")
def url(devnet: Any) -> str:
    return devnet.node_url("sequencer-0")


@pytest.fixture(scope="module")
def counter(sequencer_w3: Web3, counter_artifact: dict[str, Any]) -> Any:
    factory = sequencer_w3.eth.contract(abi=counter_artifact["abi"], bytecode=counter_artifact["bytecode"])
    data = factory.constructor().build_transaction({"from": SENDER.address, "gas": 1_000_000})["data"]
    receipt = send(sequencer_w3, {"data": data, "gas": 1_000_000})
    assert receipt["status"] == 1
    return sequencer_w3.eth.contract(address=receipt["contractAddress"], abi=counter_artifact["abi"])


def error_of(url: str, method: str, *params: Any) -> dict[str, Any]:
    reply = rpc(url, method, *params)
    assert "error" in reply, reply
    return reply["error"]


def test_access_list_is_charged_in_the_estimate_and_the_estimate_is_enough(sequencer_w3: Web3, counter: Any) -> None:
    access_list = [{"address": counter.address, "storageKeys": [SLOT0]}]
    call = {"from": SENDER.address, "to": counter.address, "data": counter.encode_abi("increment", [3])}
    plain = sequencer_w3.eth.estimate_gas(call)
    with_list = sequencer_w3.eth.estimate_gas({**call, "accessList": access_list})
    assert with_list != plain  # 2,400 + 1,900 paid up front, then warm accesses
    receipt = send(sequencer_w3, {**call, "accessList": access_list, "gas": with_list, "type": 2})
    assert receipt["status"] == 1 and receipt["gasUsed"] == with_list


def test_eip7702_authorization_list_estimate_is_enough(sequencer_w3: Web3, counter: Any) -> None:
    authority = Account.create()  # a fresh EOA delegating its code to the Counter
    auth = Account.sign_authorization({"chainId": 901, "address": counter.address, "nonce": 0}, authority.key)
    authorization = {"chainId": hex(901), "address": counter.address, "nonce": "0x0",
                     "yParity": hex(auth.y_parity), "r": hex(auth.r), "s": hex(auth.s)}
    call = {"from": SENDER.address, "to": authority.address, "data": counter.encode_abi("increment", [5])}
    estimate = int(rpc(sequencer_w3.provider.endpoint_uri, "eth_estimateGas",
                       {**call, "authorizationList": [authorization]})["result"], 16)
    assert estimate > 21_000 + 25_000  # the authorization's cost and the delegated code's SSTORE
    receipt = send(sequencer_w3, {**call, "type": 4, "gas": estimate, "authorizationList": [auth]})
    assert receipt["status"] == 1
    assert bytes(sequencer_w3.eth.get_code(authority.address)) == b"\xef\x01\x00" + bytes.fromhex(counter.address[2:])
    assert int.from_bytes(sequencer_w3.eth.get_storage_at(authority.address, 0), "big") == 5


def test_estimate_includes_the_eip7623_calldata_floor(url: str) -> None:
    call = {"from": SENDER.address, "to": OTHER.address, "data": "0x" + "ff" * 4000}
    assert int(rpc(url, "eth_estimateGas", call)["result"], 16) == 21_000 + 10 * 4 * 4000
    error = error_of(url, "eth_call", {**call, "gas": hex(85_000)}, "latest")
    assert error["code"] == -32000
    assert error["message"] == "insufficient gas for floor data gas cost: have 85000, want 181000"


def test_the_callers_gas_caps_call_and_estimate(url: str, counter: Any) -> None:
    call = {"from": SENDER.address, "to": counter.address, "data": counter.encode_abi("increment", [1])}
    error = error_of(url, "eth_estimateGas", {**call, "gas": hex(24_000)})
    assert error == {"code": -32000, "message": "gas required exceeds allowance (24000)"}
    assert error_of(url, "eth_call", {**call, "gas": hex(24_000)}, "latest") == {"code": -32000, "message": "out of gas"}
    error = error_of(url, "eth_call", {**call, "gas": hex(20_000)}, "latest")
    assert error["code"] == -32000 and error["message"].startswith("intrinsic gas too low: have 20000, want ")
    assert int(rpc(url, "eth_estimateGas", {**call, "gas": hex(200_000)})["result"], 16) < 200_000


def test_value_above_the_balance_answers_as_geth(url: str) -> None:
    pauper = Account.create().address
    call = {"from": pauper, "to": OTHER.address, "value": hex(4096)}
    assert error_of(url, "eth_call", call, "latest") == {
        "code": -32000,
        "message": f"insufficient funds for gas * price + value: address {pauper} have 0 want 4096",
    }
    assert error_of(url, "eth_estimateGas", call) == {"code": -32000, "message": "insufficient funds for transfer"}
    priced = {"from": SENDER.address, "to": OTHER.address, "gas": hex(21_000), "gasPrice": hex(10**30)}
    assert "insufficient funds for gas * price + value" in error_of(url, "eth_call", priced, "latest")["message"]


def test_state_overrides(sequencer_w3: Web3, url: str, counter: Any) -> None:
    count = counter.encode_abi("count", [])
    before = counter.functions.count().call()
    word = "0x" + (42).to_bytes(32, "big").hex()
    overridden = sequencer_w3.eth.call(
        {"to": counter.address, "data": count}, "latest", {counter.address: {"stateDiff": {SLOT0: word}}}
    )
    assert int.from_bytes(overridden, "big") == 42
    assert counter.functions.count().call() == before  # nothing was written
    elsewhere = Account.create().address
    code = sequencer_w3.eth.get_code(counter.address).to_0x_hex()
    seven = "0x" + (7).to_bytes(32, "big").hex()
    reply = rpc(url, "eth_call", {"to": elsewhere, "data": count}, "latest",
                {elsewhere: {"code": code, "state": {SLOT0: seven}}})
    assert int(reply["result"], 16) == 7
    pauper = Account.create().address
    paid = {"from": pauper, "to": OTHER.address, "value": hex(10**18)}
    assert rpc(url, "eth_call", paid, "latest", {pauper: {"balance": hex(2 * 10**18)}})["result"] == "0x"
    assert rpc(url, "eth_estimateGas", paid, "latest", {pauper: {"balance": hex(2 * 10**18)}})["result"] == hex(21_000)
    # bad overrides: a clear error, nothing applied
    both = {counter.address: {"state": {SLOT0: word}, "stateDiff": {SLOT0: word}}}
    assert error_of(url, "eth_call", {"to": counter.address, "data": count}, "latest", both)["code"] == -32602
    unknown = {counter.address: {"movePrecompileToAddress": OTHER.address}}
    assert error_of(url, "eth_call", {"to": counter.address, "data": count}, "latest", unknown)["code"] == -32602
    assert error_of(url, "eth_call", {"to": counter.address}, "latest", {"0x12": {}})["code"] == -32602
    assert counter.functions.count().call() == before
    with pytest.raises(Web3RPCError, match="insufficient funds"):
        sequencer_w3.eth.call(paid)


def test_get_logs_past_the_head_never_repeats_the_head(url: str, counter: Any, sequencer_w3: Web3) -> None:
    receipt = send(sequencer_w3, {"to": counter.address, "data": counter.encode_abi("increment", [1]), "gas": 100_000})
    block = receipt["blockNumber"]
    logs = rpc(url, "eth_getLogs", {"fromBlock": hex(block), "toBlock": hex(block), "address": counter.address})
    timestamp = sequencer_w3.eth.get_block(block)["timestamp"]
    assert [int(log["blockTimestamp"], 16) for log in logs["result"]] == [timestamp]
    tx = rpc(url, "eth_getTransactionByHash", receipt["transactionHash"].to_0x_hex())["result"]
    assert int(tx["blockTimestamp"], 16) == timestamp
    far = sequencer_w3.eth.block_number + 1000
    assert error_of(url, "eth_getLogs", {"fromBlock": hex(far)}) == {
        "code": -32602, "message": "invalid block range params"}
    assert error_of(url, "eth_getLogs", {"fromBlock": hex(block), "toBlock": hex(far)}) == {
        "code": -32602, "message": "block range extends beyond current head block"}
    assert error_of(url, "eth_getLogs", {"fromBlock": hex(block), "toBlock": hex(block - 1)}) == {
        "code": -32000, "message": "invalid block range params"}
    future = rpc(url, "eth_newFilter", {"fromBlock": hex(far), "address": counter.address})["result"]
    assert rpc(url, "eth_getFilterLogs", future)["result"] == []
