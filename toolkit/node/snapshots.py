"""A node's part of a devnet-wide snapshot and revert (test controls `devnet_snapshot` / `devnet_revert`).

The coordinator (`Scenario.snapshot` / `Scenario.revert`, which the pytest plugin runs around each
test) first holds every sequencer (`devnet_hold`: nothing is built or posted meanwhile), then takes
Anvil's `evm_snapshot` and each node's snapshot (of its own head).
To revert, it holds them again, reverts Anvil (`evm_revert`) and then each node:
  1. checks that the chain still holds the snapshot's head block (an L1 reorg in the test may have
     replaced blocks below it: then it cannot revert, and says so, changing nothing);
  2. sets its safe and finalized heads back to the snapshot's (a revert, unlike a reorg, moves
     finalized back too) and drops every block after the snapshot's head, which subscribers see
     as removed;
  3. forgets every signature above that head (journaled, so a restart does not replay them; the
     watchtower does not take the rebuilt blocks for equivocation), empties its mempool (steps 2
     and 3 run without a pause, so no transaction of a dropped block is handed on), and puts the
     test controls (censored senders, ignored forced entries, batching, partition) back;
  4. steps derivation, which finds that L1 went back (its L1 blocks after the snapshot are gone) and
     forgets, through the L1 reorg path, what came from them: batches, forced entries, leader views.
While held, a sequencer refuses mempool handoffs (503: the sender keeps them and retries), so a
peer not yet reverted cannot hand over what its own revert is about to undo.
Snapshots are single-use, as Anvil's are: reverting to one drops it and every later one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.node.partition import peer_links
from toolkit.rpc.errors import SERVER_ERROR, RpcError

if TYPE_CHECKING:
    from toolkit.node.node import L2Node


@dataclass(frozen=True)
class NodeSnapshot:
    head: int
    head_hash: bytes
    safe: int
    finalized: int
    controls: dict[str, Any] | None  # the sequencer's test controls (None on a verifier)
    partitioned: bool

    def to_json(self, snapshot_id: int) -> dict[str, Any]:
        return {"id": hex(snapshot_id), "head": self.head, "hash": "0x" + self.head_hash.hex(),
                "safe": self.safe, "finalized": self.finalized}


class NodeSnapshots:
    def __init__(self, node: L2Node) -> None:
        self.node = node
        self._snapshots: dict[int, NodeSnapshot] = {}
        self._next_id = 1

    def take(self) -> dict[str, Any]:
        follower = self.node.follower
        state = follower.state
        snapshot = NodeSnapshot(
            head=state.unsafe_number, head_hash=bytes(follower.executor.head.hash), safe=state.safe_number,
            finalized=state.finalized_number,
            controls=self.node.role.controls() if self.node.role is not None else None,
            partitioned=peer_links.cut,
        )
        snapshot_id, self._next_id = self._next_id, self._next_id + 1
        self._snapshots[snapshot_id] = snapshot
        return snapshot.to_json(snapshot_id)

    def ids(self) -> list[str]:
        """The snapshots this node can still revert to."""
        return [hex(snapshot_id) for snapshot_id in sorted(self._snapshots)]

    async def revert(self, snapshot_id: int) -> dict[str, Any]:
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None:
            raise RpcError(SERVER_ERROR, f"no snapshot {snapshot_id:#x} on this node (taken before it restarted, "
                                         "or already reverted to)")
        follower = self.node.follower
        if follower.executor.canonical_hash(snapshot.head) != snapshot.head_hash:
            raise RpcError(SERVER_ERROR, f"cannot revert: block {snapshot.head} is no longer the one at the snapshot "
                                         "(a reorg reached below it)")
        for later in [i for i in self._snapshots if i >= snapshot_id]:
            del self._snapshots[later]
        role = self.node.role
        held_before = role is not None and role.held
        if role is not None and not held_before:  # called without the coordinator's hold: hold ourselves
            await role.hold(True)
        try:
            await self._revert(snapshot)
        finally:
            if role is not None and not held_before:
                await role.hold(False)
        return snapshot.to_json(snapshot_id)

    async def _revert(self, snapshot: NodeSnapshot) -> None:
        follower = self.node.follower
        # One synchronous run: the blocks dropped hand their transactions back to the mempool, which
        # is emptied before anything else (the mempool handoff) can run.
        follower.state.revert_to(snapshot.head, snapshot.safe, snapshot.finalized)
        follower.signatures.forget_above(snapshot.head)
        if follower.watchtower is not None:
            follower.watchtower.forget_above(snapshot.head)
        if self.node.role is not None and snapshot.controls is not None:
            self.node.role.revert_to(snapshot.head, snapshot.controls)
        peer_links.set_cut(snapshot.partitioned)
        await follower.derivation.step()  # L1 went back: the L1 reorg path forgets what came after
