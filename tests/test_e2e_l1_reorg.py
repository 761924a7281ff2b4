"""L1 reorgs against a real devnet: Anvil rolled back and re-mined (hashes checked), real node processes.

The session's devnet (tests/conftest.py): L1 is back to mining when each proof ends. Each proof lines up what the reorg orphans while L1 is paused, reorgs
it (depth 1, 3, 10), then checks: the L1 hashes changed, the safe head moved back and forward, every
node ends with identical L2 blocks, and every transaction the gateway accepted is in a block.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.force_include import force_include
from toolkit.testing import SubscriptionCollector, raw_receipt, safe_number, wait_for, wait_for_event
from toolkit.testing.l1_reorg import L1Reorg, head_number, l1_rpc, mine, paused_l1, reorg_l1

ACCOUNTS = dev_accounts(6)
DEADLINE = 90.0


@pytest.fixture
def network(devnet: Devnet) -> Devnet:
    return devnet


def nodes(network: Devnet) -> list[Web3]:
    return [Web3(HTTPProvider(network.node_url(name))) for name in network.node_configs]


def status(w3: Web3) -> dict[str, Any]:
    return w3.provider.make_request("rollup_syncStatus", [])["result"]


def send_transfers(network: Devnet, sender: int, count: int) -> list[str]:
    gateway = Web3(HTTPProvider(network.gateway_url))
    account = ACCOUNTS[sender]
    nonce = gateway.eth.get_transaction_count(account.address, "pending")
    hashes = []
    for offset in range(count):
        tx = {"type": 2, "chainId": 901, "nonce": nonce + offset, "to": ACCOUNTS[0].address, "value": 1000 + offset,
              "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
        hashes.append(gateway.eth.send_raw_transaction(
            Account.sign_transaction(tx, account.private_key).raw_transaction).to_0x_hex())
    return hashes


def pending_batch(network: Devnet) -> bool:
    """The batcher's postBatch waits in Anvil's pool (L1 is paused)."""
    inbox = network.state["contracts"]["Inbox"].lower()
    pending = l1_rpc(network.state["l1"]["rpc"], "txpool_content")["pending"]
    return any(tx.get("to", "").lower() == inbox and tx["input"].startswith(_POST_BATCH)
               for by_nonce in pending.values() for tx in by_nonce.values())


_POST_BATCH = "0x" + Web3.keccak(text="postBatch(uint256,uint64,uint64,uint64,bytes,bytes)")[:4].hex()


def settled(network: Devnet, accepted: list[str], reorg: L1Reorg) -> bool:
    """Every node derived past the new branch, holds every accepted tx in a safe block, and all agree
    block by block. (A node that had not read the orphaned blocks yet needs no reset at all.)"""
    ws = nodes(network)
    statuses = [status(w3) for w3 in ws]
    if any(s["derivedL1"] < reorg.head for s in statuses):
        return False
    receipts = [[raw_receipt(w3, tx) for tx in accepted] for w3 in ws]
    if any(r is None for per_node in receipts for r in per_node):
        return False
    last = max(int(r["blockNumber"], 16) for r in receipts[0] if r is not None)
    if any(safe_number(w3) < last for w3 in ws):
        return False
    top = min(s["safeL2"]["number"] for s in statuses)
    chains = [[w3.eth.get_block(n)["hash"] for n in range(1, top + 1)] for w3 in ws]
    return all(chain == chains[0] for chain in chains) and all(
        r == receipts[0] for r in receipts
    )


def line_up_batch(network: Devnet, sender: int) -> tuple[list[str], int]:
    """With L1 paused: client transfers, their batch waiting in the pool, then mined. Returns the
    accepted transactions and the L1 block holding the batch, once the verifier made them safe."""
    l1 = network.state["l1"]["rpc"]
    accepted = send_transfers(network, sender, 3)
    verifier = Web3(HTTPProvider(network.node_url("verifier-0")))
    wait_for(lambda: all(raw_receipt(verifier, tx) for tx in accepted), DEADLINE, "the transfers in blocks")
    last = max(int(raw_receipt(verifier, tx)["blockNumber"], 16) for tx in accepted)  # type: ignore[index]
    while True:  # batch after batch (each waits in the pool for the block we mine) until they are safe
        wait_for(lambda: pending_batch(network), DEADLINE, "the batcher's postBatch in the L1 pool")
        batch_block = mine(l1, 1)
        wait_for(lambda b=batch_block: status(verifier)["derivedL1"] >= b, DEADLINE, "the verifier to read the batch")
        if safe_number(verifier) >= last:
            return accepted, batch_block


def test_depth_1_reorg_drops_a_batch_and_the_batcher_posts_it_again(network: Devnet) -> None:
    l1 = network.state["l1"]["rpc"]
    with paused_l1(l1):
        accepted, batch_block = line_up_batch(network, 1)
        assert head_number(l1) == batch_block
        reorg = reorg_l1(l1, 1)
    assert reorg.fork_point == batch_block - 1 and len(reorg.dropped) >= 1
    assert reorg.replaced[batch_block] != reorg.orphaned[batch_block]
    assert l1_rpc(l1, "eth_getBlockByNumber", [hex(batch_block), False])["hash"] == reorg.replaced[batch_block]
    wait_for(lambda: settled(network, accepted, reorg), DEADLINE, "every node to re-derive the re-posted batch")
    # the verifier had derived the batch (line_up_batch waits for it): its safe head moved back, then forward
    verifier = status(Web3(HTTPProvider(network.node_url("verifier-0"))))
    assert verifier["l1Reorgs"] >= 1 and verifier["lastL1Reorg"]["forkPoint"] <= reorg.fork_point
    assert verifier["lastL1Reorg"]["safeL2"] < verifier["lastL1Reorg"]["previousSafeL2"]


def test_depth_3_reorg_drops_a_forced_entry(network: Devnet) -> None:
    l1 = network.state["l1"]["rpc"]
    accepted = send_transfers(network, 2, 2)
    forced_sender = ACCOUNTS[3]
    nonce = Web3(HTTPProvider(network.gateway_url)).eth.get_transaction_count(forced_sender.address, "pending")
    raw = bytes(Account.sign_transaction(
        {"type": 2, "chainId": 901, "nonce": nonce, "to": ACCOUNTS[0].address, "value": 4242, "gas": 21_000,
         "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}, forced_sender.private_key).raw_transaction)
    inbox = network.state["contracts"]["Inbox"]
    handle = force_include(l1, inbox, 901, raw, ACCOUNTS[4].private_key)
    sequencer = Web3(HTTPProvider(network.node_url("sequencer-0")))
    heads = SubscriptionCollector(network.gateway_url.replace("http://", "ws://"), "newHeads")
    with heads:
        with paused_l1(l1):
            included = wait_for(lambda: raw_receipt(sequencer, handle.tx_hash), DEADLINE,
                                "the leader to include the forced entry")
            if head_number(l1) - handle.l1_block + 1 < 3:
                mine(l1, 3 - (head_number(l1) - handle.l1_block + 1))
            depth = head_number(l1) - handle.l1_block + 1
            assert depth >= 3
            reorg = reorg_l1(l1, depth)
        assert handle.l1_tx_hash in reorg.dropped
        assert all(reorg.replaced[n] != reorg.orphaned[n] for n in reorg.orphaned)
        wait_for(lambda: settled(network, accepted, reorg), DEADLINE, "every node to settle after the reorg")
        # a newHeads subscriber on the gateway saw the height of the dropped block again, with another block
        number, dropped_hash = int(included["blockNumber"], 16), included["blockHash"]
        wait_for_event(heads, lambda head: int(head["number"], 16) == number and head["hash"] != dropped_hash,
                       timeout=DEADLINE, what=f"a replacement head at L2 block {number}")
    for w3 in nodes(network):
        assert raw_receipt(w3, handle.tx_hash) is None  # the entry vanished with its L1 block
        assert all(entry["txHash"] != handle.tx_hash for entry in w3.provider.make_request(
            "rollup_forcedQueue", [])["result"])
    # queued again on the new branch (as its sender's wallet would), it lands, also derived from L1
    again = force_include(l1, inbox, 901, raw, ACCOUNTS[4].private_key)
    assert again.index == handle.index
    receipt = again.wait_included(network.gateway_url, safe=True, timeout=DEADLINE)
    assert receipt["status"] in (1, "0x1")


def test_depth_10_reorg_moves_a_batch_to_another_l1_block(network: Devnet) -> None:
    l1 = network.state["l1"]["rpc"]
    with paused_l1(l1):
        accepted, batch_block = line_up_batch(network, 5)
        mine(l1, 9)  # the batch is now 10 blocks deep
        inbox = network.state["contracts"]["Inbox"].lower()
        reorg = reorg_l1(l1, 10, keep=lambda tx: (tx.get("to") or "").lower() == inbox, delay=2)
    assert reorg.fork_point == batch_block - 1 and len(reorg.orphaned) == 10
    assert all(reorg.replaced[n] != reorg.orphaned[n] for n in reorg.orphaned)
    assert list(reorg.moved.values()) == [batch_block + 2]  # the same batch, two L1 blocks later
    wait_for(lambda: settled(network, accepted, reorg), DEADLINE, "every node to derive the moved batch")
