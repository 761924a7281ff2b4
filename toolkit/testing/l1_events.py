"""L1 reads for end-to-end tests: the registry's SequencerChanged events, straight from Anvil."""

from __future__ import annotations

from typing import Any

from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.l1.artifacts import load_artifact
from toolkit.l1.client import REASONS


def l1_changes(network: Devnet, from_block: int, chain_id: int | None = 901) -> list[dict[str, Any]]:
    """Every SequencerChanged of a chain (None: of every chain, with its "chainId") from `from_block` on,
    as {epoch, previous, next, reason name}, in L1 order."""
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    registry = l1.eth.contract(
        address=network.state["registry"]["address"],
        abi=load_artifact(network.state["registry"]["contract"])["abi"],
    )
    filters = {} if chain_id is None else {"chainId": chain_id}
    events = registry.events.SequencerChanged().get_logs(from_block=from_block, argument_filters=filters)
    return [
        {
            "epoch": e["args"]["epoch"],
            "previous": e["args"]["previous"],
            "next": e["args"]["next"],
            "reason": REASONS[e["args"]["reason"]],
            **({"chainId": e["args"]["chainId"]} if chain_id is None else {}),
        }
        for e in events
    ]
