"""A whole devnet back to an earlier moment: the L1 and every node of every chain, together.

    snapshot = take_snapshot(devnet.state)      # before a test
    ...                                         # the test sends, forces, censors, hands off, ...
    revert_snapshot(devnet.state, snapshot)     # after it: balances, nonces, blocks, L1 as they were

Taking one: every sequencer is held (`devnet_hold`: nothing is built or posted), then Anvil's
`evm_snapshot` and each node's `devnet_snapshot` (at its own head) are taken, and the sequencers
are released. Reverting: hold again, `evm_revert`
Anvil, `devnet_revert` each node (toolkit/node/snapshots.py says what a node does), make each
gateway forget the writes it would re-send, release. Clients see the blocks after the snapshot
removed, as in a reorg. A snapshot is used up by reverting to it (as Anvil's are); a node restarted
since, or a reorg that reached below the snapshot's head, makes the revert fail with the reason.

Needs the devnet's test controls (`[nodes] test_controls`, the default with its own Anvil) and a
mode whose nodes can revert (not auction or shared yet: the error says why).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from toolkit.modes import mode_named
from toolkit.testing.scenario import ScenarioError, rpc


class SnapshotError(ScenarioError):
    """The devnet cannot be snapshotted or reverted (the message says why)."""


@dataclass(frozen=True)
class NodeEndpoint:
    chain_id: int
    name: str
    role: str
    rpc: str
    admin: str


@dataclass(frozen=True)
class DevnetSnapshot:
    l1_id: str  # Anvil's evm_snapshot id
    node_ids: dict[str, str]  # node admin URL -> its devnet_snapshot id
    node_heads: dict[str, tuple[int, str]]  # node admin URL -> (number, hash) of its head then
    heads: dict[int, tuple[int, str]]  # chain id -> (number, hash) of the head clients saw (the gateway's)
    l1_block: int
    seconds: float  # how long taking it took


def endpoints(state: dict[str, Any]) -> list[NodeEndpoint]:
    """Every node of every chain, with its test-control endpoint (an error if test controls are off)."""
    problem = mode_named(str(state["mode"])).revert_unsupported
    if problem is not None:
        raise SnapshotError(f"mode {state['mode']} cannot snapshot and revert: {problem}")
    found = []
    for chain in state["chains"]:
        for node in chain["nodes"]:
            if not node.get("admin"):
                raise SnapshotError(f"{node['name']} serves no test controls: a devnet snapshot needs them "
                                    "([nodes] test_controls = true)")
            found.append(NodeEndpoint(int(chain["chain_id"]), node["name"], node["role"], node["rpc"], node["admin"]))
    return found


@contextmanager
def held(nodes: list[NodeEndpoint]) -> Iterator[None]:
    """Every sequencer builds and posts nothing inside the block."""
    sequencers = [node for node in nodes if node.role == "sequencer"]
    try:
        for node in sequencers:
            rpc(node.admin, "devnet_hold", [True], timeout=30)
        yield
    finally:
        problems = []
        for node in sequencers:
            try:
                rpc(node.admin, "devnet_hold", [False], timeout=30)
            except (OSError, ScenarioError) as exc:
                problems.append(f"{node.name}: {exc}")
        if problems:
            raise SnapshotError(f"could not release the hold on {', '.join(problems)}")


def take_snapshot(state: dict[str, Any]) -> DevnetSnapshot:
    started = time.monotonic()
    nodes = endpoints(state)
    with held(nodes):
        l1_block = int(rpc(state["l1"]["rpc"], "eth_blockNumber"), 16)
        l1_id = str(rpc(state["l1"]["rpc"], "evm_snapshot"))
        # Each node at its own head: a follower a gossiped block behind the leader is that block
        # behind after a revert too, and takes it again with the leader's next one.
        taken = {node.admin: rpc(node.admin, "devnet_snapshot") for node in nodes}
        heads = {}
        for chain in state["chains"]:
            block = rpc(chain["rpc"], "eth_getBlockByNumber", ["latest", False])
            heads[int(chain["chain_id"])] = (int(block["number"], 16), str(block["hash"]))
    return DevnetSnapshot(l1_id, {admin: part["id"] for admin, part in taken.items()},
                          {admin: (part["head"], part["hash"]) for admin, part in taken.items()}, heads, l1_block,
                          time.monotonic() - started)


def revert_snapshot(state: dict[str, Any], snapshot: DevnetSnapshot) -> float:
    """Return the devnet to `snapshot` (used up); returns the seconds it took."""
    started = time.monotonic()
    nodes = endpoints(state)
    with held(nodes):
        for node in nodes:  # every node can go back, or nothing is touched (L1 first would strand the rest)
            if snapshot.node_ids.get(node.admin) not in rpc(node.admin, "devnet_snapshots"):
                raise SnapshotError(f"{node.name} of chain {node.chain_id} no longer has its part of the snapshot "
                                    "(restarted since it was taken, or already reverted to); nothing was reverted")
        try:
            reverted_l1 = rpc(state["l1"]["rpc"], "evm_revert", [snapshot.l1_id])
        except ScenarioError as exc:
            reverted_l1 = exc
        if reverted_l1 is not True:
            raise SnapshotError(f"Anvil cannot revert to snapshot {snapshot.l1_id} ({reverted_l1}): it was used "
                                "already, or an L1 reorg (anvil_rollback) reached below it")
        for node in nodes:
            if node.admin not in snapshot.node_ids:
                raise SnapshotError(f"{node.name} of chain {node.chain_id} was not in the snapshot")
            reverted = rpc(node.admin, "devnet_revert", [snapshot.node_ids[node.admin]], timeout=60)
            if (reverted["head"], reverted["hash"]) != snapshot.node_heads[node.admin]:
                raise SnapshotError(f"{node.name} reverted chain {node.chain_id} to block {reverted['head']} "
                                    f"{reverted['hash']}, not its snapshot's {snapshot.node_heads[node.admin]}")
        for chain in state["chains"]:
            admin = chain["gateway"].get("admin")
            if admin:
                rpc(admin, "devnet_forgetWrites")
    return time.monotonic() - started
