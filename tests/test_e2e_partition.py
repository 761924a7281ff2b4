"""A node cut off from its peers (`devnet_setPartitioned`, scenario `partition` / `heal`) against the
session's real devnet: while cut it sees blocks only as L1 makes them safe, refuses peers with 503,
and once healed catches up through gossip, before L1."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from devnet.network import Devnet, rpc_call
from toolkit.testing import wait_for
from toolkit.testing.scenario import Scenario


def heads(url: str) -> tuple[int, int]:
    status = rpc_call(url, "rollup_syncStatus")
    return status["unsafeL2"]["number"], status["safeL2"]["number"]


def test_a_partitioned_verifier_sees_only_safe_blocks_and_catches_up_by_gossip_once_healed(devnet: Devnet) -> None:
    scenario = Scenario(devnet)
    verifier, sequencer = devnet.node_url("verifier-0"), devnet.node_url("sequencer-0")
    wait_for(lambda: heads(verifier)[0] > heads(verifier)[1], timeout=30, what="gossip ahead of L1 at first")
    scenario.partition("verifier-0")
    try:
        wait_for(lambda: heads(verifier)[0] == heads(verifier)[1], timeout=30,
                 what="the cut verifier's unsafe head to stop leading its safe head")
        request = urllib.request.Request(f"{verifier}/p2p/block", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("a cut node took a peer request")
        except urllib.error.HTTPError as error:
            assert error.code == 503 and "partitioned" in json.load(error)["error"]
        # while the sequencer makes three more blocks, the verifier only ever holds what L1 made safe
        start, samples = rpc_call(sequencer, "eth_blockNumber"), []

        def three_more() -> bool:
            samples.append(heads(verifier))
            return int(rpc_call(sequencer, "eth_blockNumber"), 16) >= int(start, 16) + 3

        wait_for(three_more, timeout=30, what="three more blocks at the sequencer")
        assert all(unsafe == safe for unsafe, safe in samples), samples
    finally:
        caught_up_at = scenario.heal("verifier-0")
    assert caught_up_at >= int(start, 16) + 3
    wait_for(lambda: heads(verifier)[0] > heads(verifier)[1], timeout=30,
             what="the healed verifier's unsafe head to lead its safe head again (gossip)")
