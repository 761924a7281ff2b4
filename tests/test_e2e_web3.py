"""A real client (web3.py) against the L2 RPC, and the verifier deriving the same blocks from L1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from eth_account import Account
from web3 import Web3
from web3.exceptions import BlockNotFound, ContractCustomError, ContractLogicError

from toolkit.accounts import dev_accounts
from toolkit.testing import safe_number, wait_for

ALICE, BOB, CAROL = dev_accounts(3)


def send(w3: Web3, key: str, tx: dict[str, Any]) -> Any:
    sender = Account.from_key(key).address
    tx = {
        "from": sender,
        "nonce": w3.eth.get_transaction_count(sender, "pending"),
        "chainId": w3.eth.chain_id,
        **tx,
    }
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    tx.setdefault("maxFeePerGas", w3.eth.gas_price * 2)
    tx.setdefault("maxPriorityFeePerGas", w3.eth.max_priority_fee)
    tx_hash = w3.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)


def test_transfer_receipt_and_verifier_derives_the_same_block(sequencer_w3: Web3, verifier_w3: Web3) -> None:
    before = sequencer_w3.eth.get_balance(BOB.address)
    receipt = send(sequencer_w3, ALICE.private_key, {"to": BOB.address, "value": 12345})
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    assert receipt["from"] == ALICE.address and receipt["to"] == BOB.address
    assert receipt["effectiveGasPrice"] > 0
    assert sequencer_w3.eth.get_balance(BOB.address) == before + 12345
    tx = sequencer_w3.eth.get_transaction(receipt["transactionHash"])
    assert tx["value"] == 12345 and tx["blockNumber"] == receipt["blockNumber"] and tx["type"] == 2
    # The verifier derives the block from L1 alone and gets the same hash.
    wait_for(
        lambda: safe_number(verifier_w3) >= receipt["blockNumber"], what="the verifier to derive the block"
    )
    derived = verifier_w3.eth.get_block(receipt["blockNumber"])
    assert derived["hash"] == receipt["blockHash"]
    assert verifier_w3.eth.get_transaction_receipt(receipt["transactionHash"])["status"] == 1
    assert verifier_w3.eth.get_block("safe")["number"] >= receipt["blockNumber"]


def test_deploy_call_and_events(
    sequencer_w3: Web3, verifier_w3: Web3, counter_artifact: dict[str, Any]
) -> None:
    factory = sequencer_w3.eth.contract(abi=counter_artifact["abi"], bytecode=counter_artifact["bytecode"])
    deployed = send(
        sequencer_w3, BOB.private_key, factory.constructor().build_transaction({"from": BOB.address})
    )
    address = deployed["contractAddress"]
    assert address and sequencer_w3.eth.get_code(address) != b""
    counter = sequencer_w3.eth.contract(address=address, abi=counter_artifact["abi"])
    receipt = send(
        sequencer_w3, BOB.private_key, counter.functions.increment(7).build_transaction({"from": BOB.address})
    )
    assert counter.functions.count().call() == 7
    events = counter.events.Incremented().process_receipt(receipt)
    assert len(events) == 1 and events[0]["args"]["by"] == BOB.address and events[0]["args"]["newValue"] == 7
    log = receipt["logs"][0]
    assert log["blockHash"] == receipt["blockHash"] and log["transactionHash"] == receipt["transactionHash"]
    # eth_getLogs by address and topic, and the call at a past block sees the old state.
    logs = sequencer_w3.eth.get_logs(
        {
            "fromBlock": deployed["blockNumber"],
            "toBlock": "latest",
            "address": address,
            "topics": [counter.events.Incremented().topic],
        }
    )
    assert [entry["transactionHash"] for entry in logs] == [receipt["transactionHash"]]
    assert counter.functions.count().call(block_identifier=deployed["blockNumber"]) == 0
    assert sequencer_w3.eth.get_storage_at(address, 0) == (7).to_bytes(32, "big")
    # Reverts come back as standard errors with the revert data.
    with pytest.raises(ContractCustomError) as custom:
        counter.functions.increment(5000).call({"from": BOB.address})
    assert counter.encode_abi("increment", [0])[:10] != custom.value.data[:10]
    assert custom.value.data.startswith("0x" + Web3.keccak(text="TooLarge(uint256,uint256)")[:4].hex())
    with pytest.raises(ContractLogicError, match="counter says no"):
        counter.functions.fail().estimate_gas({"from": BOB.address})
    # The verifier derives the deployment and the call and agrees on state.
    wait_for(
        lambda: safe_number(verifier_w3) >= receipt["blockNumber"], what="derivation of the contract call"
    )
    verifier_counter = verifier_w3.eth.contract(address=address, abi=counter_artifact["abi"])
    assert verifier_counter.functions.count().call(block_identifier="safe") == 7
    assert verifier_w3.eth.get_block(receipt["blockNumber"])["hash"] == receipt["blockHash"]


def test_block_tags_and_standard_methods(sequencer_w3: Web3) -> None:
    w3 = sequencer_w3
    assert w3.eth.chain_id == 901 and w3.net.version == "901"
    assert "rollup-devnet" in w3.client_version
    latest = w3.eth.get_block("latest", full_transactions=True)
    assert w3.eth.get_block("pending")["number"] >= latest["number"]
    assert w3.eth.get_block("earliest")["number"] == 0
    assert w3.eth.get_block("finalized")["number"] <= w3.eth.get_block("safe")["number"] <= latest["number"]
    assert w3.eth.get_block(latest["hash"])["number"] == latest["number"]
    history = w3.eth.fee_history(4, "latest", [10, 50, 90])
    assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1 and len(history["reward"]) >= 1
    assert w3.eth.max_priority_fee > 0 and w3.eth.gas_price > 0
    with pytest.raises(BlockNotFound):
        w3.eth.get_block(10**9)
    status = w3.provider.make_request("rollup_syncStatus", [])["result"]
    assert status["unsafeL2"]["number"] >= status["safeL2"]["number"] >= status["finalizedL2"]["number"]
    sequencer = w3.provider.make_request("rollup_sequencer", [])["result"]
    assert sequencer["mode"] == "single" and Web3.is_address(sequencer["sequencer"])


def test_transactions_sent_to_the_verifier_are_forwarded(verifier_w3: Web3, sequencer_w3: Web3) -> None:
    receipt = send(verifier_w3, CAROL.private_key, {"to": ALICE.address, "value": 1})
    assert receipt["status"] == 1
    assert sequencer_w3.eth.get_transaction(receipt["transactionHash"])["blockHash"] == receipt["blockHash"]


def test_websocket_logs_subscription_delivers_contract_events(
    devnet: Any, sequencer_w3: Web3, counter_artifact: dict[str, Any]
) -> None:
    factory = sequencer_w3.eth.contract(abi=counter_artifact["abi"], bytecode=counter_artifact["bytecode"])
    address = send(
        sequencer_w3, CAROL.private_key, factory.constructor().build_transaction({"from": CAROL.address})
    )["contractAddress"]
    counter = sequencer_w3.eth.contract(address=address, abi=counter_artifact["abi"])
    ws_url = devnet.node_url("sequencer-0").replace("http://", "ws://")

    async def scenario() -> tuple[dict[str, Any], Any]:
        async with websockets.connect(ws_url) as socket:
            await socket.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "eth_subscribe",
                        "params": ["logs", {"address": address}],
                    }
                )
            )
            subscription = json.loads(await socket.recv())["result"]
            receipt = await asyncio.to_thread(
                send,
                sequencer_w3,
                CAROL.private_key,
                counter.functions.increment(3).build_transaction({"from": CAROL.address}),
            )
            async with asyncio.timeout(15):
                message = json.loads(await socket.recv())
            assert message["params"]["subscription"] == subscription
            return message["params"]["result"], receipt

    log, receipt = asyncio.run(scenario())
    assert log["address"] == address and log["removed"] is False
    assert log["transactionHash"] == receipt["transactionHash"].to_0x_hex()
    assert int(log["data"], 16) == 3
