"""scenario.expect against the session's real devnet: it subscribes on the gateway's WebSocket before
the block runs and waits for what was expected when it ends, or says what came instead."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.testing.scenario import Scenario, ScenarioError

SENDER = dev_accounts(10)[4]


def test_expect_collects_what_the_block_caused(devnet: Devnet) -> None:
    scenario = Scenario(devnet)
    l2 = Web3(HTTPProvider(scenario.gateway))
    tx = {"type": 2, "chainId": 901, "to": "0x000000000000000000000000000000000000dEaD", "value": 1,
          "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1,
          "nonce": l2.eth.get_transaction_count(SENDER.address, "pending")}
    with scenario.expect("newHeads", where=lambda head: int(head["number"], 16) > 0) as heads:
        tx_hash = l2.eth.send_raw_transaction(Account.sign_transaction(tx, SENDER.private_key).raw_transaction)
        number = l2.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)["blockNumber"]
    assert heads.kind == "newHeads" and heads.events, heads
    with scenario.expect("newHeads", where=lambda head: int(head["number"], 16) > number, count=2) as later:
        pass  # nothing to cause: the chain makes blocks by itself
    numbers = [int(head["number"], 16) for head in later.events]
    assert len(numbers) >= 2 and all(n > number for n in numbers) and numbers == sorted(numbers)


def test_expect_says_what_came_instead(devnet: Devnet) -> None:
    scenario = Scenario(devnet)  # mode single: there is never a handoff
    with pytest.raises(ScenarioError, match=r"expected 1 sequencerChanged notification\(s\) within 2 s of the "
                                            r"block's end; the gateway sent 0"):
        with scenario.expect("sequencerChanged", timeout=2):
            pass
    with pytest.raises(ValueError, match="boom"), scenario.expect("newHeads"):  # the block's own error comes first
        raise ValueError("boom")
