"""Differential test with Anvil as the oracle: the corpus (tests/fixtures/differential_corpus.json) runs
as one L2 block through the executor every node uses (py-evm) and as one Anvil block, with the same
alloc, base fee, coinbase, timestamp and signed bytes. Receipts (status, gasUsed, cumulativeGasUsed,
logs, contract address), return data, balances and estimates must agree."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth._utils.address import generate_contract_address
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_canonical_address, to_checksum_address

from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import REPO_ROOT
from toolkit.l2.calls import CallRefused, CallReverted
from toolkit.l2.chain_config import GenesisAccount, L2ChainConfig
from toolkit.l2.executor import BlockAttributes, L2Executor
from toolkit.l2.predeploys import predeploys
from toolkit.rpc import params as p
from toolkit.rpc.formatters import format_receipt
from toolkit.testing.anvil import running_anvil

CORPUS = REPO_ROOT / "tests" / "fixtures" / "differential_corpus.json"
ACCOUNTS = dev_accounts(10)
BALANCE = 10_000 * 10**18  # Anvil's default dev balance
CHAIN_ID = 901
COINBASE = "0x4200000000000000000000000000000000000011"
AUTHORITY = Account.from_key(keccak(b"authority"))
FEES = {"maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**8}
ESTIMATE_MARGIN = 0.015  # Anvil's (and geth's) binary search stops within 1.5% of the answer


def rpc(url: str, method: str, *params: Any) -> dict[str, Any]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def result(url: str, method: str, *params: Any) -> Any:
    reply = rpc(url, method, *params)
    assert "error" not in reply, (method, params, reply)
    return reply["result"]


class Corpus:
    """The corpus's transactions signed once; names resolved to addresses as they are deployed."""

    def __init__(self, entries: list[dict[str, Any]], counter_bytecode: str) -> None:
        self.entries = entries
        self.names = {"authority": AUTHORITY.address}
        self.nonces: dict[int, int] = {}
        self.raws: list[bytes] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for entry in entries:
            self.raws.append(self._sign(entry, counter_bytecode))

    def address(self, name: str) -> str:
        if name.startswith("dev:"):
            return ACCOUNTS[int(name[4:])].address
        return self.names.get(name) or to_checksum_address(name)

    def _data(self, entry: dict[str, Any], counter_bytecode: str) -> str:
        if entry.get("deploy") == "Counter":
            return counter_bytecode
        if "deploy_code" in entry:
            return entry["deploy_code"]
        if "call" in entry:
            types = entry["call"][entry["call"].index("(") + 1:-1].split(",") if entry["args"] else []
            selector = function_signature_to_4byte_selector(entry["call"])
            return "0x" + (selector + encode(types, entry["args"])).hex()
        return entry.get("data", "0x")

    def _sign(self, entry: dict[str, Any], counter_bytecode: str) -> bytes:
        sender = ACCOUNTS[entry["from"]]
        nonce = self.nonces.get(entry["from"], 0)
        self.nonces[entry["from"]] = nonce + 1
        tx_type = entry.get("type", 2)
        tx: dict[str, Any] = {"type": tx_type, "chainId": CHAIN_ID, "nonce": nonce, "gas": entry["gas"],
                              "value": entry.get("value", 0), "data": self._data(entry, counter_bytecode)}
        if "to" in entry:
            tx["to"] = self.address(entry["to"])
        tx.update(FEES if tx_type >= 2 else {"gasPrice": FEES["maxFeePerGas"]})
        if tx_type == 0:
            del tx["type"]
        if "accessList" in entry:
            tx["accessList"] = [{"address": self.address(a), "storageKeys": [f"0x{s:064x}" for s in slots]}
                                for a, slots in entry["accessList"]]
        if "authorize" in entry:
            auth = {"chainId": CHAIN_ID, "address": self.address(entry["authorize"]), "nonce": 0}
            tx["authorizationList"] = [AUTHORITY.sign_authorization(auth)]
        if "as" in entry:
            created = generate_contract_address(to_canonical_address(sender.address), nonce)
            self.names[entry["as"]] = to_checksum_address(created)
        if entry.get("call_check"):
            call = {"from": sender.address, "gas": hex(entry["gas"]), "value": hex(tx["value"]), "input": tx["data"]}
            if "to" in tx:
                call["to"] = tx["to"]
            if "accessList" in tx:
                call["accessList"] = tx["accessList"]
            self.calls.append((entry["name"], call))
        return bytes(Account.sign_transaction(tx, sender.private_key).raw_transaction)


@pytest.fixture(scope="module")
def corpus(counter_artifact: dict[str, Any]) -> Corpus:
    return Corpus(json.loads(CORPUS.read_text())["transactions"], counter_artifact["bytecode"])


def test_l2_and_anvil_agree_on_the_corpus(corpus: Corpus, tmp_path: Path) -> None:
    genesis_time = int(time.time())
    block_time = genesis_time + 30
    executor = L2Executor(L2ChainConfig(
        chain_id=CHAIN_ID, genesis_timestamp=genesis_time, fee_recipient=COINBASE,
        alloc=tuple(GenesisAccount(a.address, BALANCE) for a in ACCOUNTS),
    ))
    built = executor.execute_block(executor.head, BlockAttributes(block_time, 0, b"\0" * 32), corpus.raws, strict=True)
    executor.append(built)
    l2_receipts = [format_receipt(built.block, built.receipts, i) for i in range(len(corpus.raws))]

    with running_anvil(tmp_path, "--chain-id", str(CHAIN_ID), "--hardfork", "prague", "--no-mining",
                       "--order", "fifo", "--base-fee", str(10**9), "--gas-limit", "30000000") as anvil:
        result(anvil, "anvil_setCoinbase", COINBASE)
        result(anvil, "anvil_setNextBlockBaseFeePerGas", hex(built.block.header.base_fee_per_gas))
        for account in predeploys():  # the L2's genesis contracts, where Anvil lacks them
            result(anvil, "anvil_setCode", account.address, account.code)
            result(anvil, "anvil_setNonce", account.address, hex(account.nonce))
        hashes = [result(anvil, "eth_sendRawTransaction", "0x" + raw.hex()) for raw in corpus.raws]
        result(anvil, "evm_setNextBlockTimestamp", hex(block_time))
        result(anvil, "evm_mine")
        anvil_receipts = [result(anvil, "eth_getTransactionReceipt", h) for h in hashes]
        mismatches = []
        for entry, ours, theirs in zip(corpus.entries, l2_receipts, anvil_receipts, strict=True):
            assert theirs is not None and theirs["blockNumber"] == "0x1", (entry["name"], theirs)
            for key in ("status", "gasUsed", "cumulativeGasUsed", "contractAddress", "effectiveGasPrice"):
                if str(ours[key]).lower() != str(theirs[key]).lower() and not (
                    key == "contractAddress" and theirs[key] is None
                ):
                    mismatches.append(f"{entry['name']}: {key} L2 {ours[key]} Anvil {theirs[key]}")
            if _logs(ours) != _logs(theirs):
                mismatches.append(f"{entry['name']}: logs L2 {ours['logs']} Anvil {theirs['logs']}")
        touched = {a.address for a in ACCOUNTS} | {COINBASE, AUTHORITY.address, *corpus.names.values()}
        for address in sorted(touched):
            ours = executor.balance(address, executor.head)
            theirs = int(result(anvil, "eth_getBalance", address, "latest"), 16)
            if ours != theirs:
                mismatches.append(f"balance of {address}: L2 {ours} Anvil {theirs}")
            if executor.code(address, executor.head).hex() != result(anvil, "eth_getCode", address, "latest")[2:]:
                mismatches.append(f"code of {address} differs")
        for name, call in corpus.calls:
            mismatches.extend(_compare_call(executor, anvil, name, call))
        assert not mismatches, "\n".join(mismatches)


def _logs(receipt: dict[str, Any]) -> list[tuple[str, ...]]:
    return [(log["address"].lower(), *log["topics"], log["data"], log["logIndex"]) for log in receipt["logs"]]


def _compare_call(executor: L2Executor, anvil: str, name: str, call: dict[str, Any]) -> list[str]:
    """eth_call's return data (or revert data) and eth_estimateGas agree at the block's state."""
    problems = []
    request = p.call_object(call)
    theirs = rpc(anvil, "eth_call", call, "latest")
    try:
        ours: Any = "0x" + executor.call(request, executor.head).hex()
    except CallReverted as exc:
        ours = {"data": "0x" + exc.data.hex()}
    except CallRefused as exc:
        ours = {"refused": str(exc)}
    if "result" in theirs:
        if ours != theirs["result"]:
            problems.append(f"{name}: eth_call L2 {ours} Anvil {theirs['result']}")
        estimate_call = {k: v for k, v in call.items() if k != "gas"}
        anvil_estimate = int(result(anvil, "eth_estimateGas", estimate_call, "latest"), 16)
        our_estimate = executor.estimate_gas(p.call_object(estimate_call), executor.head)
        if not our_estimate <= anvil_estimate <= our_estimate * (1 + ESTIMATE_MARGIN) + 1:
            problems.append(f"{name}: eth_estimateGas L2 {our_estimate} Anvil {anvil_estimate}")
    elif not isinstance(ours, dict) or ours.get("data", "0x") != theirs["error"].get("data", "0x"):
        problems.append(f"{name}: eth_call L2 {ours} Anvil error {theirs['error']}")
    return problems
