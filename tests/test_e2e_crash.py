"""A SIGKILLed sequencer: the verifier keeps serving every block that reached L1."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.testing import fast_config, safe_number, wait_for

ALICE, BOB = dev_accounts(2)


def health(node_url: str) -> Any:
    with urllib.request.urlopen(f"{node_url}/health", timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_verifier_serves_l1_blocks_after_the_sequencer_is_killed(tmp_path: Path) -> None:
    network = Devnet(fast_config(tmp_path))
    network.up()
    try:
        sequencer = Web3(HTTPProvider(network.node_url("sequencer-0")))
        verifier = Web3(HTTPProvider(network.node_url("verifier-0")))
        receipts = []
        for nonce in range(3):
            tx = {
                "type": 2,
                "chainId": 901,
                "nonce": nonce,
                "to": BOB.address,
                "value": 10**15,
                "gas": 21_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 1,
            }
            tx_hash = sequencer.eth.send_raw_transaction(
                Account.sign_transaction(tx, ALICE.private_key).raw_transaction
            )
            receipts.append(sequencer.eth.wait_for_transaction_receipt(tx_hash, timeout=20, poll_latency=0.1))
        last = receipts[-1]["blockNumber"]
        wait_for(lambda: safe_number(verifier) >= last, what="the transfers to reach L1")
        expected_balance = verifier.eth.get_balance(BOB.address, block_identifier=last)
        network.processes["sequencer-0"].kill()
        assert not network.processes["sequencer-0"].alive()
        # Every block that reached L1 is still served, identical, and stays safe.
        safe = safe_number(verifier)
        for receipt in receipts:
            block = verifier.eth.get_block(receipt["blockNumber"])
            assert block["hash"] == receipt["blockHash"]
            assert verifier.eth.get_transaction_receipt(receipt["transactionHash"])["status"] == 1
        assert verifier.eth.get_balance(BOB.address, block_identifier="safe") == expected_balance
        assert safe_number(verifier) == safe
        # Writes get a clear error rather than vanishing.
        tx = {
            "type": 2,
            "chainId": 901,
            "nonce": 3,
            "to": BOB.address,
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1,
        }
        reply = verifier.provider.make_request(
            "eth_sendRawTransaction",
            ["0x" + bytes(Account.sign_transaction(tx, ALICE.private_key).raw_transaction).hex()],
        )
        assert "sequencer unreachable" in reply["error"]["message"]
        # A fresh verifier started now rebuilds the same chain from L1 alone.
        network.processes["verifier-0"].stop()
        network.start_node("verifier-0")
        network.wait_node_ready("verifier-0")
        assert safe_number(verifier) == safe
        assert verifier.eth.get_block(last)["hash"] == receipts[-1]["blockHash"]
        # With the L1 dead too, the verifier says it is not ready and why, and still serves what it has.
        assert health(network.node_url("verifier-0"))["ready"] is True
        network.processes["anvil"].kill()
        wait_for(lambda: health(network.node_url("verifier-0"))["ready"] is False, timeout=60,
                 what="the verifier to report ready: false with the L1 dead")
        status = verifier.provider.make_request("rollup_syncStatus", [])["result"]
        assert status["ready"] is False
        assert "l1" in [stall["loop"] for stall in status["stalled"]], status["stalled"]
        assert verifier.eth.get_block(last)["hash"] == receipts[-1]["blockHash"]
    finally:
        network.down()
