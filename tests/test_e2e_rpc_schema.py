"""Every eth_ method the L2 serves answers in the shape of the Ethereum execution-apis OpenRPC spec.

The spec is read from the shared copy beside the repository (../shared/execution-apis/eth-openrpc.json);
each result is validated against the method's result schema with jsonschema. Methods of the spec the
node does not serve must answer -32601 and be listed in README.md with the reason.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import REPO_ROOT
from toolkit.testing import wait_for

SPEC = REPO_ROOT.parent / "shared" / "execution-apis" / "eth-openrpc.json"
ACCOUNTS = dev_accounts(10)
NOT_SERVED = {  # listed in README.md ("Spec methods not served") with the reason
    "eth_baseFee", "eth_capabilities", "eth_config", "eth_fillTransaction", "eth_getBlockAccessList",
    "eth_getStorageValues",
}


def rpc(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"the execution-apis spec is not at {SPEC} (a checkout without ../shared)")
    return json.loads(SPEC.read_text())


def requests(url: str) -> dict[str, list[list[Any]]]:
    """Each served spec method with the parameter lists to call it with (from live chain data)."""
    sender, receiver = ACCOUNTS[1].address, ACCOUNTS[2].address
    emits_a_log = "0x60006000a0"  # init code: LOG0 with no data, deploys nothing
    tx_hash = rpc(url, "eth_sendTransaction", [{"from": sender, "data": emits_a_log}])["result"]
    receipt = wait_for(lambda: rpc(url, "eth_getTransactionReceipt", [tx_hash])["result"], timeout=60,
                       what="the transaction's receipt")
    block, number = receipt["blockHash"], receipt["blockNumber"]
    log_filter = rpc(url, "eth_newFilter", [{"fromBlock": "0x0"}])["result"]
    block_filter = rpc(url, "eth_newBlockFilter", [])["result"]
    call = {"from": sender, "to": receiver, "value": "0x1"}
    history = "0x0000F90827F1C53a10cb7A02335B175320002935"
    return {
        "eth_accounts": [[]],
        "eth_blobBaseFee": [[]],
        "eth_blockNumber": [[]],
        "eth_call": [[call, "latest"], [call, number, {sender: {"balance": "0x1"}}]],
        "eth_chainId": [[]],
        "eth_coinbase": [[]],
        "eth_createAccessList": [[{"from": sender, "to": history, "data": "0x" + "00" * 32}, "latest"]],
        "eth_estimateGas": [[call], [call, "latest"]],
        "eth_feeHistory": [["0x4", "latest", [25, 75]], ["0x1", "latest"]],
        "eth_gasPrice": [[]],
        "eth_getBalance": [[sender, "latest"], [sender, {"blockHash": block}]],
        "eth_getBlockByHash": [[block, False], [block, True], ["0x" + "00" * 32, False]],
        "eth_getBlockByNumber": [[number, True], ["latest", False], ["safe", False], ["0xffffffff", False]],
        "eth_getBlockReceipts": [[number], ["latest"]],
        "eth_getBlockTransactionCountByHash": [[block]],
        "eth_getBlockTransactionCountByNumber": [[number]],
        "eth_getCode": [[history, "latest"]],
        "eth_getFilterChanges": [[log_filter], [block_filter]],
        "eth_getFilterLogs": [[log_filter]],
        "eth_getLogs": [[{"fromBlock": "0x0", "toBlock": "latest"}], [{"blockHash": block}]],
        "eth_getProof": [[history, ["0x" + "00" * 32], "latest"], [sender, [], number]],
        "eth_getStorageAt": [[history, "0x0", "latest"]],
        "eth_getTransactionByBlockHashAndIndex": [[block, "0x0"]],
        "eth_getTransactionByBlockNumberAndIndex": [[number, "0x0"]],
        "eth_getTransactionByHash": [[tx_hash], ["0x" + "00" * 32]],
        "eth_getTransactionCount": [[sender, "latest"], [sender, "pending"]],
        "eth_getTransactionReceipt": [[tx_hash], ["0x" + "00" * 32]],
        "eth_maxPriorityFeePerGas": [[]],
        "eth_newBlockFilter": [[]],
        "eth_newFilter": [[{"fromBlock": "latest"}]],
        "eth_newPendingTransactionFilter": [[]],
        "eth_sendRawTransaction": [],  # checked by the sendTransaction result (hash32) and other tests
        "eth_sendTransaction": [[{"from": sender, "to": receiver, "value": "0x2"}]],
        "eth_sign": [[sender, "0xdeadbeef"]],
        "eth_signTransaction": [[{"from": sender, "to": receiver, "value": "0x1"}]],
        "eth_simulateV1": [
            [{"blockStateCalls": [{"stateOverrides": {receiver: {"code": "0x602a60005260206000a060206000f3"}},
                                   "calls": [{"from": sender, "to": receiver}, {"from": sender, "to": history}]},
                                  {"blockOverrides": {"time": "0xffffffff"}, "calls": []}]}, "latest"],
            [{"blockStateCalls": [{"stateOverrides": {receiver: {"code": "0x60006000fd"}},
                                   "calls": [{"from": sender, "to": receiver}]}],
              "returnFullTransactions": True, "validation": True}, number],
        ],
        "eth_syncing": [[]],
        "eth_uninstallFilter": [[block_filter]],
        "net_version": [[]],
    }


def test_results_match_the_execution_apis_schema(devnet: Devnet, spec: dict[str, Any]) -> None:
    url = devnet.node_url("sequencer-0")
    table = requests(url)
    methods = spec["methods"]
    assert set(table) | NOT_SERVED == set(methods), "every spec method is checked or listed as not served"
    failures = []
    for name, calls in table.items():
        schema = {"components": spec["components"], **methods[name]["result"]["schema"]}
        validator = Draft202012Validator(schema)
        for params in calls:
            reply = rpc(url, name, params)
            if "error" in reply:
                failures.append(f"{name}{params}: {reply['error']}")
                continue
            for error in validator.iter_errors(reply["result"]):
                if error.validator == "oneOf" and reply["result"] == []:
                    continue  # FilterResults: an empty array is both "no logs" and "no hashes" to oneOf
                failures.append(f"{name}{params}: {error.message[:300]} at {list(error.absolute_path)}")
    assert not failures, "\n".join(failures)
    for name in NOT_SERVED:
        assert rpc(url, name, [])["error"]["code"] == -32601, name
    readme = (Path(REPO_ROOT) / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in NOT_SERVED)
