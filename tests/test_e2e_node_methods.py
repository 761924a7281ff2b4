"""The methods client developers expect beyond the basics: the dev accounts as node accounts
(ethers getSigner, cast send --unlocked), eth_getProof, eth_createAccessList,
eth_getRawTransactionByHash, eth_coinbase, txpool_content / txpool_status."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from typing import Any

import rlp
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import keccak, to_canonical_address
from trie import HexaryTrie
from web3 import Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import REPO_ROOT, find_foundry_tool

ACCOUNTS = dev_accounts(10)
TYPED = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
        "Note": [{"name": "text", "type": "string"}],
    },
    "primaryType": "Note",
    "domain": {"name": "Devnet", "chainId": 901},
    "message": {"text": "hi"},
}


def rpc(url: str, method: str, *params: Any) -> dict[str, Any]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_dev_accounts_sign_as_node_accounts(devnet: Devnet, sequencer_w3: Web3) -> None:
    url = devnet.gateway_url
    assert rpc(url, "eth_accounts")["result"] == [a.address for a in ACCOUNTS]
    signer = ACCOUNTS[1]
    signature = rpc(url, "eth_sign", signer.address, "0x" + b"hello".hex())["result"]
    assert Account.recover_message(encode_defunct(b"hello"), signature=signature) == signer.address
    typed = rpc(url, "eth_signTypedData_v4", signer.address, TYPED)["result"]
    assert Account.recover_message(encode_typed_data(full_message=TYPED), signature=typed) == signer.address
    raw = rpc(url, "eth_signTransaction", {"from": signer.address, "to": ACCOUNTS[2].address, "value": "0x1"})
    assert Account.recover_transaction(raw["result"]["raw"]) == signer.address
    assert raw["result"]["tx"]["from"] == signer.address
    stranger = Account.create().address
    assert rpc(url, "eth_sign", stranger, "0x00")["error"] == {"code": -32000, "message": "unknown account"}
    refused = rpc(url, "eth_sendTransaction", {"from": stranger, "to": signer.address})
    assert refused["error"] == {"code": -32000, "message": "unknown account"}
    # cast send --unlocked: the node signs with its account
    sent = subprocess.run(
        [str(find_foundry_tool("cast")), "send", "--json", "--rpc-url", url, "--unlocked", "--from",
         ACCOUNTS[2].address, ACCOUNTS[3].address, "--value", "1000"],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    receipt = json.loads(sent.stdout)
    assert receipt["status"] == "0x1" and receipt["from"].lower() == ACCOUNTS[2].address.lower()
    # ethers' provider.getSigner(): tests/test_e2e_js_clients.py
    # the raw transaction of a mined one, and the block's coinbase
    raw_sent = rpc(url, "eth_getRawTransactionByHash", receipt["transactionHash"])["result"]
    assert "0x" + keccak(bytes.fromhex(raw_sent[2:])).hex() == receipt["transactionHash"]
    assert rpc(url, "eth_getRawTransactionByHash", "0x" + "00" * 32)["result"] is None
    assert rpc(url, "eth_coinbase")["result"] == sequencer_w3.eth.get_block("latest")["miner"]


def test_get_proof_verifies_against_the_state_root(devnet: Devnet, sequencer_w3: Web3) -> None:
    url = devnet.node_url("sequencer-0")
    block = sequencer_w3.eth.get_block("latest")
    history = "0x0000F90827F1C53a10cb7A02335B175320002935"  # a contract with storage: EIP-2935
    slot = "0x" + (block["number"] - 1).to_bytes(32, "big").hex()
    proof = rpc(url, "eth_getProof", history, [slot], hex(block["number"]))["result"]
    nodes = [rlp.decode(bytes.fromhex(n[2:])) for n in proof["accountProof"]]
    account = rlp.decode(HexaryTrie.get_from_proof(bytes(block["stateRoot"]), keccak(to_canonical_address(history)),
                                                    nodes))
    assert int.from_bytes(account[0], "big") == int(proof["nonce"], 16) == 1
    assert account[2] == bytes.fromhex(proof["storageHash"][2:])
    assert account[3] == keccak(bytes(sequencer_w3.eth.get_code(history, block["number"])))
    entry = proof["storageProof"][0]
    storage_nodes = [rlp.decode(bytes.fromhex(n[2:])) for n in entry["proof"]]
    stored = HexaryTrie.get_from_proof(account[2], keccak(bytes.fromhex(slot[2:])), storage_nodes)
    assert int.from_bytes(rlp.decode(stored), "big") == int(entry["value"], 16)
    assert int(entry["value"], 16) == int.from_bytes(bytes(sequencer_w3.eth.get_block(block["number"] - 1)["hash"]),
                                                     "big")
    assert rpc(url, "eth_getProof", history, "0x01", "latest")["error"]["code"] == -32602


def test_create_access_list_lists_what_the_call_touches(devnet: Devnet) -> None:
    url = devnet.node_url("sequencer-0")
    contract, other = Account.create().address, Account.create().address
    # the contract reads another account's balance: BALANCE(other)
    code = "0x73" + other[2:].lower() + "3150" + "00"
    call = {"from": ACCOUNTS[0].address, "to": contract}
    reply = rpc(url, "eth_createAccessList", call, "latest", {contract: {"code": code}})["result"]
    assert reply["accessList"] == [{"address": other, "storageKeys": []}]
    assert int(reply["gasUsed"], 16) == 21_000 + 3 + 100 + 2 + 2400  # PUSH20, warm BALANCE, POP, list entry
    assert rpc(url, "eth_createAccessList", {"from": ACCOUNTS[0].address, "to": contract, "gas": "0x1"})["error"][
        "code"] == -32000


def test_txpool_shows_pending_and_queued(devnet: Devnet, sequencer_w3: Web3) -> None:
    url = devnet.node_url("sequencer-0")
    owner = Account.create()
    funder = ACCOUNTS[0]
    fund = {"type": 2, "chainId": 901, "to": owner.address, "value": 10**18, "gas": 21_000,
            "nonce": sequencer_w3.eth.get_transaction_count(funder.address, "pending"),
            "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9}
    sequencer_w3.eth.wait_for_transaction_receipt(
        sequencer_w3.eth.send_raw_transaction(Account.sign_transaction(fund, funder.private_key).raw_transaction),
        timeout=60, poll_latency=0.1)

    def transfer(nonce: int) -> bytes:
        tx = {**fund, "to": funder.address, "value": 1, "nonce": nonce}
        return bytes(Account.sign_transaction(tx, owner.key).raw_transaction)

    gapped = sequencer_w3.eth.send_raw_transaction(transfer(1))  # waits for nonce 0: queued
    content = rpc(url, "txpool_content")["result"]
    assert content["queued"][owner.address]["1"]["hash"] == gapped.to_0x_hex()
    assert owner.address not in content["pending"]
    assert int(rpc(url, "txpool_status")["result"]["queued"], 16) >= 1
    sequencer_w3.eth.send_raw_transaction(transfer(0))  # fills the gap: both are mined
    assert sequencer_w3.eth.wait_for_transaction_receipt(gapped, timeout=60, poll_latency=0.1)["status"] == 1
    assert owner.address not in rpc(url, "txpool_content")["result"]["queued"]


def test_debug_traces_in_geths_formats(devnet: Devnet, sequencer_w3: Web3) -> None:
    url = devnet.node_url("sequencer-0")
    deployer = "0x4e59b44847b379578588920cA78FbF26c0B4956C"
    init_code = "6001600c60003960016000f300"  # deploys the one-byte runtime STOP
    salt = Account.create().key.hex()  # a fresh salt: the CREATE2 address is new each run
    tx_hash = rpc(url, "eth_sendTransaction", {"from": ACCOUNTS[4].address, "to": deployer,
                                                "data": "0x" + salt + init_code})["result"]
    receipt = sequencer_w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.1)
    assert receipt["status"] == 1
    calls = rpc(url, "debug_traceTransaction", tx_hash, {"tracer": "callTracer"})["result"]
    assert calls["type"] == "CALL" and calls["to"] == deployer and int(calls["gasUsed"], 16) == receipt["gasUsed"]
    assert [child["type"] for child in calls["calls"]] == ["CREATE2"]
    assert calls["calls"][0]["from"] == deployer and calls["calls"][0]["input"] == "0x" + init_code
    logs = rpc(url, "debug_traceTransaction", tx_hash)["result"]
    assert logs["gas"] == receipt["gasUsed"] and logs["failed"] is False
    ops = [entry["op"] for entry in logs["structLogs"]]
    assert "CREATE2" in ops and {entry["depth"] for entry in logs["structLogs"]} == {1, 2}
    assert logs["structLogs"][0]["pc"] == 0 and logs["structLogs"][-1]["op"] == "RETURN"  # the deployer returns the address
    # debug_traceCall: Multicall3.getEthBalance reads a balance
    call = {"to": "0xcA11bde05977b3631167028862bE2a173976CA11",
            "data": "0x4d2301cc" + ACCOUNTS[4].address[2:].lower().rjust(64, "0")}
    traced = rpc(url, "debug_traceCall", call, "latest", {"tracer": "callTracer"})["result"]
    assert traced["output"] == rpc(url, "eth_call", call, "latest")["result"]
    struct = rpc(url, "debug_traceCall", call, "latest")["result"]
    assert "BALANCE" in [entry["op"] for entry in struct["structLogs"]]
    assert rpc(url, "debug_traceCall", call, "latest", {"tracer": "prestateTracer"})["error"]["code"] == -32000
    assert rpc(url, "debug_traceTransaction", "0x" + "00" * 32)["error"]["code"] == -32000


def test_create_access_list_leaves_out_eip7702_authorities(devnet: Devnet) -> None:
    url = devnet.node_url("sequencer-0")
    contract, other, authority = Account.create().address, Account.create().address, Account.create()
    signed = Account.sign_authorization({"chainId": 901, "address": contract, "nonce": 0}, authority.key)
    authorization = {"chainId": "0x385", "address": contract, "nonce": "0x0", "yParity": hex(signed.y_parity),
                     "r": hex(signed.r), "s": hex(signed.s)}
    code = "0x73" + other[2:].lower() + "3150" + "00"  # BALANCE(other): other is listed, the authority is not
    call = {"from": ACCOUNTS[0].address, "to": contract, "authorizationList": [authorization]}
    reply = rpc(url, "eth_createAccessList", call, "latest", {contract: {"code": code}})["result"]
    assert reply["accessList"] == [{"address": other, "storageKeys": []}], reply


def test_call_tracer_create_frames_include_the_code_deposit(devnet: Devnet) -> None:
    url = devnet.node_url("sequencer-0")
    factory = Account.create().address
    # CREATE(0, 27, 5) of the init code 600a6000f3 (returns 10 bytes) stored at memory word 0
    code = "0x64600a6000f3600052" + "6005601b6000f0" + "00"
    call = {"from": ACCOUNTS[0].address, "to": factory}
    traced = rpc(url, "debug_traceCall", call, "latest",
                 {"tracer": "callTracer", "stateOverrides": {factory: {"code": code}}})["result"]
    [created] = traced["calls"]
    assert created["type"] == "CREATE" and created["output"] == "0x" + "00" * 10
    assert int(created["gasUsed"], 16) == 3 + 3 + 3 + 10 * 200  # PUSH1, PUSH1, RETURN's memory, the deposit


def test_struct_logs_carry_storage_at_sload_and_sstore(devnet: Devnet) -> None:
    url = devnet.node_url("sequencer-0")
    contract = Account.create().address
    code = "0x6005600155" + "600254" + "00"  # SSTORE(1, 5); SLOAD(2)
    seven = "0x" + f"{7:064x}"
    overrides = {contract: {"code": code, "stateDiff": {"0x" + f"{2:064x}": seven}}}
    logs = rpc(url, "debug_traceCall", {"from": ACCOUNTS[0].address, "to": contract}, "latest",
               {"stateOverrides": overrides})["result"]["structLogs"]
    storage = {entry["op"]: entry.get("storage") for entry in logs}
    one, two = f"{1:064x}", f"{2:064x}"
    assert storage["SSTORE"] == {one: f"{5:064x}"}
    assert storage["SLOAD"] == {one: f"{5:064x}", two: f"{7:064x}"}
    assert storage["PUSH1"] is None  # only SLOAD / SSTORE steps carry it
