"""The gateway's WebSocket relay loses no sequencerChanged notification when its backend node dies:
the gap between the lost node's last notice and the new node's first is filled from L1."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet, rpc_call
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import load_artifact
from toolkit.testing import SubscriptionCollector, fast_config, wait_for, wait_for_event


def test_a_change_relayed_while_the_backend_died_still_reaches_the_client(tmp_path: Path) -> None:
    network = Devnet(fast_config(tmp_path))
    network.up()
    try:
        l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
        registry = l1.eth.contract(address=network.state["registry"]["address"],
                                   abi=load_artifact("SequencerRegistry")["abi"])
        gateway = network.processes["gateway"]
        verifier_url = network.node_url("verifier-0")
        newcomer = Account.create().address
        with SubscriptionCollector(network.gateway_url.replace("http://", "ws://"), "sequencerChanged") as notices:
            # The relay's backend is the leader, sequencer-0. Freeze the gateway, kill its backend and
            # let the change happen and be relayed by the other node before the gateway can re-subscribe.
            os.kill(gateway.pid, signal.SIGSTOP)
            try:
                network.processes["sequencer-0"].kill()
                admin = dev_accounts(1)[0]
                tx = registry.functions.setSequencer(901, newcomer).build_transaction(
                    {"from": admin.address, "nonce": l1.eth.get_transaction_count(admin.address, "pending")})
                tx_hash = l1.eth.send_raw_transaction(Account.sign_transaction(tx, admin.private_key).raw_transaction)
                mined = l1.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["blockNumber"]
                wait_for(lambda: any(c["next"] == newcomer for c in
                                     rpc_call(verifier_url, "rollup_sequencer")["recentChanges"]),
                         timeout=20, what="the verifier to relay the change (before the gateway re-subscribes)")
            finally:
                os.kill(gateway.pid, signal.SIGCONT)
            notice = wait_for_event(notices, lambda n: n["next"] == newcomer, timeout=20,
                                    what="the change to reach the gateway's subscriber anyway")
            assert notice["reason"] == "admin" and notice["l1Block"] == mined
            # and only once, even though the new backend may relay it too
            wait_for(lambda: rpc_call(network.gateway_url, "eth_blockNumber"), timeout=10, what="the gateway")
            assert [n["next"] for n in notices.notices].count(newcomer) == 1
    finally:
        network.down()
