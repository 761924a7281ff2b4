"""A devnet-wide snapshot and revert (scenario.snapshot / scenario.revert; the plugin runs them around
each test) on a real pos devnet with two validators and watchtowers.

What a test did after the snapshot is gone everywhere: its L2 blocks (clients see the head go back, logs removed),
balances and nonces, its batches and forced entries on L1, the censoring it left on. Nothing of it
looks like misbehaviour afterwards: the leader rebuilds those heights without a watchtower calling
it equivocation, and the chain goes on (a transaction with the reverted one's nonce lands and
becomes safe).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet, rpc_call
from toolkit.accounts import dev_accounts
from toolkit.testing import SubscriptionCollector, fast_config, wait_for
from toolkit.testing.isolation import SnapshotError, endpoints
from toolkit.testing.running import running_devnet
from toolkit.testing.scenario import Scenario

PAYER, CENSORED = dev_accounts(10)[4], dev_accounts(10)[5]
DEAD = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with running_devnet(fast_config(tmp_path_factory.mktemp("pos"), mode="pos", sequencers=2)) as network:
        yield network


def transfer(w3: Web3, account: object, value: int, nonce: int | None = None) -> bytes:
    key = account.private_key  # type: ignore[attr-defined]
    address = Account.from_key(key).address
    tx = {"to": DEAD, "value": value, "gas": 21_000, "gasPrice": w3.eth.gas_price, "chainId": w3.eth.chain_id,
          "nonce": w3.eth.get_transaction_count(address, "pending") if nonce is None else nonce}
    return bytes(Account.sign_transaction(tx, key).raw_transaction)


@pytest.mark.slow
def test_a_revert_undoes_blocks_l1_and_test_controls_and_the_chain_goes_on(devnet: Devnet) -> None:
    w3 = Web3(HTTPProvider(devnet.gateway_url))
    l1 = Web3(HTTPProvider(devnet.state["l1"]["rpc"]))
    scenario = Scenario(devnet)
    wait_for(lambda: w3.eth.get_block("safe")["number"] >= 2, timeout=60, what="a safe block")
    snapshot = scenario.snapshot()
    head, head_hash = snapshot.heads[901]
    balance, nonce = w3.eth.get_balance(PAYER.address), w3.eth.get_transaction_count(PAYER.address)
    forced_before = len(rpc_call(devnet.node_url("verifier-0"), "rollup_forcedQueue"))

    # what a test does: a payment made safe on L1, a forced entry queued, censoring left on
    paid = w3.eth.send_raw_transaction(transfer(w3, PAYER, 10**18))
    scenario.wait_for("safe", paid.to_0x_hex())
    scenario.force_include(transfer(w3, CENSORED, 1))
    scenario.censor(CENSORED.address)
    wait_for(lambda: len(rpc_call(devnet.node_url("verifier-0"), "rollup_forcedQueue")) == forced_before + 1,
             timeout=30, what="the verifier to read the forced entry from L1")

    assert w3.eth.block_number > head + 1
    with SubscriptionCollector(devnet.gateway_url.replace("http://", "ws://"), "newHeads") as heads:
        seconds = scenario.revert(snapshot)
        # as in any reorg, a newHeads subscriber sees the head go back: a new block at head + 1
        wait_for(lambda: any(int(h["number"], 16) == head + 1 for h in heads.notices), timeout=30,
                 what="a newHeads notification of the block rebuilt after the snapshot's head")
    assert seconds < 30
    assert w3.eth.get_balance(PAYER.address, head) == balance
    assert w3.eth.get_transaction_count(PAYER.address) == nonce
    assert w3.eth.get_block(head)["hash"].to_0x_hex() == head_hash
    with pytest.raises(Exception, match="not found"):
        w3.eth.get_transaction_receipt(paid)
    assert l1.eth.block_number < snapshot.l1_block + 3  # L1 went back too (interval mining goes on)
    for node in devnet.state["chains"][0]["nodes"]:
        status = rpc_call(node["rpc"], "rollup_syncStatus")
        assert status["watchtower"] in ([], None), status["watchtower"]
        if status.get("sequencing"):
            assert status["sequencing"]["censored"] == [], "the censoring the test left on is undone"
        assert len(rpc_call(node["rpc"], "rollup_forcedQueue")) == forced_before

    # the chain goes on from the snapshot: the same nonce again, and a censored-before sender too
    again = w3.eth.send_raw_transaction(transfer(w3, PAYER, 5, nonce=nonce))
    receipt = scenario.wait_for("safe", again.to_0x_hex())
    assert int(receipt["blockNumber"], 16) > head
    scenario.wait_for("unsafe", w3.eth.send_raw_transaction(transfer(w3, CENSORED, 1)).to_0x_hex())
    logs = "".join(path.read_text() for path in devnet.log_dir.glob("sequencer-*.log"))
    assert "RE-SIGNING" not in logs and "we signed another block there" not in logs
    for node in devnet.state["chains"][0]["nodes"]:
        assert rpc_call(node["rpc"], "rollup_syncStatus")["watchtower"] in ([], None)

    # a snapshot is used up by reverting to it
    with pytest.raises(SnapshotError, match="no longer has its part of the snapshot"):
        scenario.revert(snapshot)


@pytest.mark.slow
def test_a_node_restarted_since_the_snapshot_makes_the_revert_refuse_before_touching_anything(
        devnet: Devnet) -> None:
    scenario = Scenario(devnet)
    snapshot = scenario.snapshot()
    follower = next(name for name in scenario.sequencers if name != scenario.leader())
    scenario.restart(scenario.crash_sequencer(follower))
    l1 = Web3(HTTPProvider(devnet.state["l1"]["rpc"]))
    l1_before = l1.eth.block_number
    with pytest.raises(SnapshotError, match=f"{follower} of chain 901 no longer has its part"):
        scenario.revert(snapshot)
    assert l1.eth.block_number >= l1_before, "L1 was reverted although a node could not follow"
    w3 = Web3(HTTPProvider(devnet.gateway_url))
    head = w3.eth.block_number
    wait_for(lambda: w3.eth.block_number > head, timeout=30, what="the chain to go on (the hold released)")


def test_modes_whose_nodes_cannot_revert_say_why(tmp_path: Path) -> None:
    for mode, reason in (("auction", "sealed bids"), ("shared", "bundles")):
        with pytest.raises(SnapshotError, match=reason):
            endpoints({"mode": mode, "chains": []})
    with pytest.raises(SnapshotError, match="test controls"):
        endpoints({"mode": "pos", "chains": [{"chain_id": 901, "nodes": [{"name": "verifier-0", "admin": None}]}]})
