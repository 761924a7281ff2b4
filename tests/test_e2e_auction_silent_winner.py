"""Mode auction: a winner that goes silent is timed out and the fallback leads; force inclusion works
in this mode (issue 11, proof 3), against real processes.

Three validators; sequencer-0 outbids the others (strategy `value`), so it wins the epochs it can
reveal for. It is SIGKILLed early in an epoch it won: the other nodes report the timeout on L1 after
`liveness_timeout` silent L1 blocks, L1 names the pos fallback (`SequencerChanged(reason = timeout)`),
the chain goes on, and a transaction queued in the Inbox meanwhile lands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.config import AuctionSettings
from devnet.network import Devnet, rpc_call
from toolkit.accounts import dev_accounts
from toolkit.force_include import force_include
from toolkit.l1.artifacts import load_artifact
from toolkit.testing import fast_config, wait_for
from toolkit.testing.running import running_devnet

CHAIN = 901
EPOCH = 12
TIMEOUT_BLOCKS = 3
USER = dev_accounts(10)[6]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    config = fast_config(tmp_path_factory.mktemp("auction-silent"), mode="auction", sequencers=3,
                         epoch_length=EPOCH, liveness_timeout=TIMEOUT_BLOCKS)
    auction = AuctionSettings(close_offset=6, reveal_window=4, reserve_price_wei=10**15,
                              strategies=["value", "fixed 0.005", "off"], expected_mev_wei=10**16, shading=0.8)
    with running_devnet(replace(config, auction=auction).validate()) as devnet:
        yield devnet


@pytest.mark.slow
def test_a_silent_winner_is_timed_out_the_fallback_leads_and_force_inclusion_lands(network: Devnet) -> None:
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    auction = l1.eth.contract(address=network.state["registry"]["address"], abi=load_artifact("SequencerAuction")["abi"])
    inbox = l1.eth.contract(address=network.state["contracts"]["Inbox"], abi=load_artifact("Inbox")["abi"])
    verifier = network.node_url("verifier-0")
    names = {s["address"]: s["name"] for s in network.state["sequencers"]}

    def winner_leading_early_in_its_epoch() -> dict | None:
        info = rpc_call(verifier, "rollup_sequencer")
        head = l1.eth.block_number
        won = info["auction"].get("validWinner") == info["sequencer"] and info["sequencer"] is not None
        return info if won and head % EPOCH <= 2 and info["epoch"] == head // EPOCH else None

    info = wait_for(winner_leading_early_in_its_epoch, timeout=180, what="an auction winner early in its epoch")
    winner, epoch = info["sequencer"], info["epoch"]
    assert auction.functions.auctionOf(CHAIN, epoch).call()[1] == winner  # L1's record of the auction
    name = names[winner]
    killed_at = l1.eth.block_number
    network.processes[name].kill()  # SIGKILL, and the supervisor leaves it down (killed on purpose)
    try:
        # a transaction queued on L1 while the winner is silent
        tx = {"type": 2, "chainId": CHAIN, "nonce": 0, "to": "0x000000000000000000000000000000000000dEaD",
              "value": 3, "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
        raw = bytes(Account.sign_transaction(tx, USER.private_key).raw_transaction)
        handle = force_include(network.state["l1"]["rpc"], inbox.address, CHAIN, raw, USER.private_key)

        # the other nodes report the silence; L1 hands the epoch to the pos fallback
        def timed_out() -> dict | None:
            changes = auction.events.SequencerChanged().get_logs(from_block=killed_at,
                                                                 argument_filters={"chainId": CHAIN})
            return next((c["args"] for c in changes if c["args"]["reason"] == 4 and c["args"]["previous"] == winner),
                        None)

        change = wait_for(timed_out, timeout=60, what=f"a timeout of the silent winner {name}")
        assert change["next"] != winner and change["epoch"] == epoch
        info = wait_for(lambda: (lambda i: i if i["sequencer"] == change["next"] else None)(
            rpc_call(verifier, "rollup_sequencer")), timeout=30, what="the verifier to follow the fallback")
        assert info["auction"]["why"].startswith("fallback"), info["auction"]

        # the queued transaction lands, and the chain goes on under the fallback
        receipt = handle.wait_included(verifier, safe=True, timeout=90)
        assert int(receipt["status"], 16) == 1
        head = int(rpc_call(verifier, "eth_blockNumber"), 16)
        wait_for(lambda: int(rpc_call(network.state["chains"][0]["rpc"], "eth_blockNumber"), 16) >= head + 2,
                 timeout=30, what="new blocks from the fallback leader")
    finally:
        network.start_node(name)
        network.wait_node_ready(name)
