"""L1 reads for end-to-end tests: the registry's SequencerChanged events, straight from Anvil."""

from __future__ import annotations

from typing import Any

from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.l1.artifacts import load_artifact
from toolkit.l1.client import REASONS


def l1_changes(network: Devnet, from_block: int) -> list[dict[str, Any]]:
    """Every SequencerChanged from `from_block` on, as {epoch, previous, next, reason name}, in L1 order."""
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    registry = l1.eth.contract(
        address=network.state["registry"]["address"],
        abi=load_artifact(network.state["registry"]["contract"])["abi"],
    )
    events = registry.events.SequencerChanged().get_logs(from_block=from_block)
    return [
        {
            "epoch": e["args"]["epoch"],
            "previous": e["args"]["previous"],
            "next": e["args"]["next"],
            "reason": REASONS[e["args"]["reason"]],
        }
        for e in events
    ]
