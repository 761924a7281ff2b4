"""Decentralised sequencing end to end: rotation, handoffs behind the gateway, failover, slashing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet, rpc_call
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import load_artifact
from toolkit.testing import (
    SubscriptionCollector,
    fast_config,
    l1_changes,
    raw_receipt,
    safe_number,
    wait_for,
    wait_for_event,
)

ACCOUNTS = dev_accounts(10)


def as_change(notice: dict[str, Any]) -> dict[str, Any]:
    """A sequencerChanged notice in the shape of l1_changes()."""
    return {k: notice[k] for k in ("epoch", "previous", "next", "reason")}


@pytest.fixture()
def pos_network(tmp_path: Path) -> Iterator[Devnet]:
    network = Devnet(fast_config(tmp_path, mode="pos", sequencers=3, epoch_length=4, liveness_timeout=6))
    network.up()
    try:
        yield network
    finally:
        network.down()


@pytest.mark.slow
def test_rotation_through_six_epochs_with_a_steady_client(pos_network: Devnet) -> None:
    network = pos_network
    gateway = network.gateway_url
    w3 = Web3(HTTPProvider(gateway))
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    sender, receiver = ACCOUNTS[1], ACCOUNTS[2]
    accepted: list[str] = []
    refused: list[str] = []
    with SubscriptionCollector(gateway.replace("http://", "ws://"), "sequencerChanged") as collector:
        # Handoffs from the next L1 block on are certainly notified: the subscription exists already.
        start_block = l1.eth.block_number + 1
        start_epoch = start_block // 4
        nonce = w3.eth.get_transaction_count(sender.address)
        next_send = time.monotonic()
        # Six epoch boundaries and at least 200 transfers (a loaded machine sends for longer).
        while l1.eth.block_number // 4 < start_epoch + 6 or len(accepted) + len(refused) < 200:
            tx = {
                "type": 2,
                "chainId": 901,
                "nonce": nonce,
                "to": receiver.address,
                "value": 1,
                "gas": 21_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 1,
            }
            reply = w3.provider.make_request(
                "eth_sendRawTransaction",
                ["0x" + bytes(Account.sign_transaction(tx, sender.private_key).raw_transaction).hex()],
            )
            if "result" in reply:
                accepted.append(reply["result"])
                nonce += 1
            else:
                refused.append(reply["error"]["message"])  # a clear answer; the same nonce is retried
            next_send += 0.1  # a steady 10 transfers per second, whatever each request took
            time.sleep(max(0.0, next_send - time.monotonic()))
        # Every accepted transaction lands, exactly once.
        receipts = wait_for(
            lambda: (
                (r := [w3.eth.get_transaction_receipt(h) if raw_receipt(w3, h) else None for h in accepted])
                and all(r)
                and r
            ),
            timeout=90,
            what="every accepted transfer to land",
        )
        assert all(r["status"] == 1 for r in receipts)
        positions = {(r["blockNumber"], r["transactionIndex"]) for r in receipts}
        assert len(positions) == len(accepted) and w3.eth.get_transaction_count(sender.address) == nonce
        # And they stay: the verifier derives them from L1.
        verifier = Web3(HTTPProvider(network.node_url("verifier-0")))
        last = max(r["blockNumber"] for r in receipts)
        wait_for(lambda: safe_number(verifier) >= last, timeout=60, what="derivation of the transfers")
        for receipt in receipts[:: max(1, len(receipts) // 20)]:
            assert verifier.eth.get_block(receipt["blockNumber"])["hash"] == receipt["blockHash"]
        # Every handoff is an L1 event and a notification, in the same order.
        changes = l1_changes(network, start_block)
        assert changes, "no handoff in six epochs"
        assert all(c["reason"] == "rotation" for c in changes)
        for change in changes:  # each one, not just as many notices (an earlier handoff may be among them)
            wait_for_event(
                collector,
                lambda n, c=change: as_change(n) == c,
                timeout=15,
                what=f"the sequencerChanged notice of {change}",
            )
    notified = [as_change(n) for n in collector.notices if n["epoch"] >= changes[0]["epoch"]]
    assert notified[: len(changes)] == changes
    sent = len(accepted) + len(refused)
    assert sent >= 200 and len(refused) <= sent // 20, (len(accepted), refused[:3])


@pytest.mark.slow
def test_committee_rotates_round_robin_and_posts_m_of_n(tmp_path: Path) -> None:
    network = Devnet(fast_config(tmp_path, mode="committee", sequencers=3, epoch_length=4))
    network.up()
    try:
        l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
        registry = l1.eth.contract(
            address=network.state["registry"]["address"], abi=load_artifact("CommitteeRegistry")["abi"]
        )
        committee = registry.functions.committee().call()
        assert committee == [s["address"] for s in network.state["sequencers"]]
        assert registry.functions.threshold().call() == 2
        start = l1.eth.block_number
        changes = wait_for(
            lambda: len(c := l1_changes(network, start)) >= 3 and c,
            timeout=40,
            what="three committee handoffs",
        )
        for change in changes:
            assert change["reason"] == "rotation" and change["next"] == committee[change["epoch"] % 3]
        # Batches from the rotating leaders, each with M-of-N signatures, keep the safe head moving.
        inbox = l1.eth.contract(
            address=network.state["contracts"]["Inbox"], abi=load_artifact("Inbox")["abi"]
        )
        # (a leader whose turn just began may not have posted yet: wait for the batches, not the handoffs)
        wait_for(lambda: len({e["args"]["sender"] for e in inbox.events.BatchPosted().get_logs(from_block=start)})
                 >= 2, timeout=30, what="batches from more than one leader")
        verifier = Web3(HTTPProvider(network.node_url("verifier-0")))
        gateway = Web3(HTTPProvider(network.gateway_url))
        head = gateway.eth.block_number
        wait_for(lambda: safe_number(verifier) >= head, timeout=30, what="derivation past the handoffs")
        assert verifier.eth.get_block(head)["hash"] == gateway.eth.get_block(head)["hash"]
    finally:
        network.down()


@pytest.mark.slow
def test_old_leaders_mempool_moves_to_the_new_leader(pos_network: Devnet) -> None:
    network = pos_network
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    registry = l1.eth.contract(
        address=network.state["registry"]["address"],
        abi=load_artifact(network.state["registry"]["contract"])["abi"],
    )
    gateway = Web3(HTTPProvider(network.gateway_url))
    names = {s["address"]: s["name"] for s in network.state["sequencers"]}
    sender, receiver = ACCOUNTS[5], ACCOUNTS[6]
    nonce = gateway.eth.get_transaction_count(sender.address)

    def signed(n: int) -> str:
        tx = {
            "type": 2,
            "chainId": 901,
            "nonce": n,
            "to": receiver.address,
            "value": 7,
            "gas": 21_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1,
        }
        return "0x" + bytes(Account.sign_transaction(tx, sender.private_key).raw_transaction).hex()

    # Early in an epoch, hold a transaction in the leader's mempool: its nonce leaves a gap, so no block takes it.
    wait_for(lambda: l1.eth.block_number % 4 == 0, timeout=10, what="the start of an epoch")
    old = registry.functions.sequencerFor(901, l1.eth.block_number).call()
    old_url = network.node_url(names[old])
    # The node acts on its own view of L1, which follows L1's head within a poll: wait until it leads.
    wait_for(lambda: rpc_call(old_url, "rollup_syncStatus")["sequencing"]["leading"], timeout=5,
             what=f"{names[old]} to see that it leads")
    held = rpc_call(old_url, "eth_sendRawTransaction", [signed(nonce + 1)])
    sequencing = rpc_call(old_url, "rollup_syncStatus")["sequencing"]
    assert sequencing["leading"] and sequencing["mempool"] == 1
    assert rpc_call(old_url, "eth_getTransactionByHash", [held])["blockNumber"] is None
    # The handoff moves it to the new leader's mempool.
    new = wait_for(
        lambda: (
            (leader := registry.functions.sequencerFor(901, l1.eth.block_number).call()) != old and leader
        ),
        timeout=60,
        what="another validator to lead",
    )
    new_url = network.node_url(names[new])
    wait_for(
        lambda: rpc_call(new_url, "eth_getTransactionByHash", [held]) is not None,
        timeout=15,
        what="the held transaction in the new leader's mempool",
    )
    status = rpc_call(old_url, "rollup_syncStatus")["sequencing"]
    assert status["handoff"]["forwarded"] >= 1 and status["mempool"] == 0
    # Filling the gap through the gateway lands both, in nonce order.
    first = gateway.provider.make_request("eth_sendRawTransaction", [signed(nonce)])["result"]
    receipts = wait_for(
        lambda: (r := [raw_receipt(gateway, h) for h in (first, held)]) and all(r) and r,
        timeout=30,
        what="both transfers to land",
    )
    assert [int(r["status"], 16) for r in receipts] == [1, 1]
    assert (int(receipts[0]["blockNumber"], 16), int(receipts[0]["transactionIndex"], 16)) < (
        int(receipts[1]["blockNumber"], 16),
        int(receipts[1]["transactionIndex"], 16),
    )
    assert gateway.eth.get_transaction_count(sender.address) == nonce + 2
