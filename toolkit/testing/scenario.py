"""The scenario API: the hard moments of a rollup, caused on a running devnet, each waiting for what it
causes and returning what a client saw. Synchronous (for tests); never sleeps a fixed time.

    scenario = Scenario(devnet)                       # a Devnet (owned) or an AttachedDevnet (state file)
    reorg = scenario.reorg_l1(3)                      # L1Reorg: orphaned / replaced hashes, dropped txs
    scenario.censor(address); scenario.uncensor()
    scenario.pause_batches(); scenario.resume_batches()   # unsafe blocks held back from L1, then posted
    scenario.handoff(); scenario.equivocate()         # modes that rotate / stake
    forced = scenario.force_include(raw_tx)           # queued on L1; forced.wait_included(safe=True)
    receipt = scenario.wait_for("safe", tx_hash)      # unsafe | safe | finalized
    scenario.advance_l1(n); scenario.advance_epochs(1)
    name = scenario.crash_sequencer(); scenario.restart(name)   # owned devnets only
    snapshot = scenario.snapshot(); ...; scenario.revert(snapshot)   # the whole devnet back (isolation.py)

Every wait polls with a deadline (`timeout`, default 90 s: the suite runs on loaded machines).
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from devnet.rpc import RpcReplyError, rpc_call
from toolkit.force_include import ForcedTx, force_include
from toolkit.modes import mode_named
from toolkit.testing.l1_reorg import L1Reorg, head_number, mine, reorg_l1
from toolkit.testing.subscriptions import SubscriptionCollector
from toolkit.testing.waits import wait_for

LEVELS = ("unsafe", "safe", "finalized")
DEFAULT_TIMEOUT = 90.0
MAX_HANDOFF_EPOCHS = 8


class ScenarioError(RuntimeError):
    """A scenario step that cannot be done on this devnet (the message says why)."""


class DevnetLike(Protocol):
    state: dict[str, Any]


@dataclass
class AttachedDevnet:
    """A devnet some other process started (`devnet up --detach`, another test session): read from its
    state file. Processes are not ours, so crash/restart are not available."""

    state_file: Path
    state: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.state_file.is_file():
            raise ScenarioError(f"no devnet state file at {self.state_file} (is the devnet up?)")
        self.state = json.loads(self.state_file.read_text())

    @property
    def gateway_url(self) -> str:
        return str(self.state["chains"][0]["rpc"])


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 10.0) -> Any:
    try:
        return rpc_call(url, method, params, timeout)
    except RpcReplyError as exc:
        raise ScenarioError(f"{method} on {url}: {exc.message}") from exc


def _runs(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie waiting for its parent does not)."""
    if not Path("/proc/self/stat").exists():  # no /proc: ask the kernel (a zombie still counts there)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@dataclass
class Expectation:
    """What `Scenario.expect` saw: the matching notifications (filled when its block ends)."""

    kind: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ForcedInclusion:
    """A transaction queued in the L1 Inbox by the scenario; `wait_included` follows it on the gateway."""

    forced: ForcedTx
    gateway: str

    @property
    def tx_hash(self) -> str:
        return self.forced.tx_hash

    def wait_included(self, safe: bool = True, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        return self.forced.wait_included(self.gateway, safe=safe, timeout=timeout)


class Scenario:
    def __init__(self, devnet: DevnetLike, chain_id: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.devnet = devnet
        self.timeout = timeout
        chains = devnet.state["chains"]
        self.chain = next((c for c in chains if chain_id in (None, c["chain_id"])), None)
        if self.chain is None:
            raise ScenarioError(f"the devnet has no chain {chain_id}")

    # ----- where things are -----
    @property
    def l1_rpc(self) -> str:
        return str(self.devnet.state["l1"]["rpc"])

    @property
    def gateway(self) -> str:
        return str(self.chain["rpc"])  # type: ignore[index]

    @property
    def nodes(self) -> dict[str, str]:
        return {node["name"]: node["rpc"] for node in self.chain["nodes"]}  # type: ignore[index]

    def admin(self, name: str) -> str:
        """A node's own endpoint for test controls (devnet_*), never reachable through the gateway."""
        node = next((n for n in self.chain["nodes"] if n["name"] == name), None)  # type: ignore[index]
        if node is None:
            raise ScenarioError(f"the devnet has no node {name!r}")
        if not node.get("admin"):
            raise ScenarioError(f"{name} serves no test controls: start the devnet with [nodes] test_controls = true")
        return str(node["admin"])

    @property
    def mode(self) -> str:
        return str(self.devnet.state["mode"])

    @property
    def rotates(self) -> bool:
        """Whether the mode has several sequencers that take turns (handoffs, failover after a crash)."""
        return mode_named(self.mode).rotates

    @property
    def sequencers(self) -> list[str]:
        return [node["name"] for node in self.chain["nodes"] if node["role"] == "sequencer"]  # type: ignore[index]

    def leader(self) -> str:
        """The name of the node that leads now (as L1 says, through the gateway)."""
        address = (rpc(self.gateway, "rollup_sequencer")["sequencer"] or "").lower()
        for node in self.chain["nodes"]:  # type: ignore[index]
            if (node.get("address") or "").lower() == address:
                return str(node["name"])
        raise ScenarioError(f"no node of this devnet has the leader's address {address}")

    def _live_nodes(self) -> dict[str, str]:
        live = {}
        for name, url in self.nodes.items():
            try:
                rpc(url, "eth_chainId", timeout=2)
                live[name] = url
            except (OSError, ScenarioError):
                continue
        return live

    # ----- the whole devnet back to an earlier moment (toolkit/testing/isolation.py) -----
    def snapshot(self) -> Any:
        """Snapshot L1 and every node of every chain together; a DevnetSnapshot for `revert`."""
        from toolkit.testing.isolation import take_snapshot

        return take_snapshot(self.devnet.state)

    def revert(self, snapshot: Any) -> float:
        """Return the whole devnet to `snapshot` (used up); returns the seconds it took."""
        from toolkit.testing.isolation import revert_snapshot

        return revert_snapshot(self.devnet.state, snapshot)

    # ----- L1 -----
    def advance_l1(self, blocks: int) -> int:
        """Mine `blocks` L1 blocks now; wait until every live node has read them. Returns the L1 head."""
        head = mine(self.l1_rpc, blocks)
        self._wait_derived(head)
        return head

    def advance_epochs(self, epochs: int = 1) -> int:
        """Mine L1 to the first block of the epoch `epochs` ahead; returns that L1 block."""
        length = int(self.devnet.state["l1"]["epoch_length"])
        head = head_number(self.l1_rpc)
        target = (head // length + epochs) * length
        return self.advance_l1(target - head)

    def reorg_l1(self, depth: int, drop_batches: bool = True) -> L1Reorg:
        """Replace the newest `depth` L1 blocks (hashes checked to have changed); with `drop_batches` the
        orphaned L1 transactions vanish, otherwise they move to the new branch. Waits until every live
        node has derived past the new L1 head."""
        reorg = reorg_l1(self.l1_rpc, depth, keep=lambda tx: not drop_batches,
                         block_time=float(self.devnet.state["l1"]["block_time"]))
        self._wait_derived(reorg.head)
        return reorg

    def _wait_derived(self, l1_block: int) -> None:
        def derived() -> bool:
            return all(rpc(url, "rollup_syncStatus")["derivedL1"] >= l1_block for url in self._live_nodes().values())

        wait_for(derived, self.timeout, f"every node to read L1 block {l1_block}")

    # ----- transactions -----
    def wait_for(self, level: str, tx_hash: str) -> dict[str, Any]:
        """Wait until the transaction is in an L2 block at `level` (unsafe, safe or finalized) on the
        gateway; returns its receipt."""
        if level not in LEVELS:
            raise ScenarioError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")

        def reached() -> dict[str, Any] | None:
            receipt = rpc(self.gateway, "eth_getTransactionReceipt", [tx_hash])
            if receipt is None:
                return None
            if level == "unsafe":
                return dict(receipt)
            head = rpc(self.gateway, "eth_getBlockByNumber", [level, False])
            if head is None or int(head["number"], 16) < int(receipt["blockNumber"], 16):
                return None
            canonical = rpc(self.gateway, "eth_getBlockByNumber", [receipt["blockNumber"], False])
            return dict(receipt) if canonical and canonical["hash"] == receipt["blockHash"] else None

        return dict(wait_for(reached, self.timeout, f"transaction {tx_hash} to be {level}"))

    def force_include(self, raw_tx: bytes, l1_key: str | None = None) -> ForcedInclusion:
        """Queue a signed L2 transaction in the L1 Inbox (fee paid by `l1_key`, default dev account 9)."""
        key = l1_key or self.devnet.state["accounts"][9]["private_key"]
        inbox = self.devnet.state["contracts"]["Inbox"]
        return ForcedInclusion(force_include(self.l1_rpc, inbox, int(self.chain["chain_id"]), raw_tx, key),  # type: ignore[index]
                               self.gateway)

    def censor(self, *addresses: str) -> None:
        """Every sequencer node leaves transactions from `addresses` out (forced entries as late as allowed)."""
        for name in self.sequencers:
            rpc(self.admin(name), "devnet_setCensored", [list(addresses)])

    def uncensor(self) -> None:
        self.censor()

    def pause_batches(self) -> None:
        """Every sequencer holds its batches back: new blocks stay unsafe."""
        for name in self.sequencers:
            rpc(self.admin(name), "devnet_setBatching", [False])

    def resume_batches(self) -> int:
        """Batches flow again; returns the L2 block that was the unsafe head, once the gateway has it safe."""
        unsafe = int(rpc(self.gateway, "eth_blockNumber"), 16)
        for name in self.sequencers:
            rpc(self.admin(name), "devnet_setBatching", [True])
        wait_for(lambda: int(rpc(self.gateway, "eth_getBlockByNumber", ["safe", False])["number"], 16) >= unsafe,
                 self.timeout, f"L2 block {unsafe} to become safe")
        return unsafe

    @contextmanager
    def expect(self, kind: str, where: Callable[[dict[str, Any]], bool] | None = None, count: int = 1,
               timeout: float | None = None) -> Iterator[Expectation]:
        """Subscribe to `kind` (newHeads, sequencerChanged, newPendingTransactions) on the gateway's
        WebSocket before the block runs; when it ends, wait until `count` notifications matching `where`
        arrived (ScenarioError saying what came instead). They are in the yielded `.events`."""
        expectation = Expectation(kind)
        seconds = self.timeout if timeout is None else timeout
        with SubscriptionCollector(str(self.chain["ws"]), kind) as collector:  # type: ignore[index]
            yield expectation

            def matched() -> list[dict[str, Any]] | None:
                found = [notice for notice in list(collector.notices) if where is None or where(notice)]
                return found if len(found) >= count else None

            try:
                expectation.events = wait_for(matched, seconds, f"{count} {kind} notification(s)")
            except AssertionError:
                seen = list(collector.notices)
                raise ScenarioError(
                    f"expected {count} {kind} notification(s){' matching the condition' if where else ''} within "
                    f"{seconds:g} s of the block's end; the gateway sent {len(seen)}"
                    + (f", e.g. {seen[-1]}" if seen else "")) from None

    def partition(self, name: str) -> None:
        """Cut node `name` off from its peers both ways (gossip, sync, attestations, mempool handoff).
        It still reads L1 and answers clients: from now on it sees blocks only once they are safe."""
        rpc(self.admin(name), "devnet_setPartitioned", [True])

    def heal(self, name: str) -> int:
        """Restore `name`'s peer links; returns the gateway's head at that moment, once `name` holds
        that very block again (it catches up through gossip, before L1 makes it safe)."""
        rpc(self.admin(name), "devnet_setPartitioned", [False])
        head = rpc(self.gateway, "eth_getBlockByNumber", ["latest", False])
        number, url = int(head["number"], 16), self.nodes[name]

        def caught_up() -> bool:
            block = rpc(url, "eth_getBlockByNumber", [hex(number), False])
            return block is not None and block["hash"] == head["hash"]

        wait_for(caught_up, self.timeout, f"{name} to hold the gateway's head {number} again")
        return number

    def equivocate(self, name: str | None = None) -> dict[str, Any]:
        """The node `name` (default: the leader) signs a second block at its head's height; returns both."""
        return dict(rpc(self.admin(name or self.leader()), "devnet_equivocate"))

    def handoff(self) -> dict[str, Any]:
        """Mine L1 to the next epoch and wait until the gateway names another leader: {previous, next,
        l1Block}. Modes with one sequencer have no handoff (ScenarioError)."""
        if not mode_named(str(self.devnet.state["mode"])).rotates:
            raise ScenarioError(f"mode {self.devnet.state['mode']} has one sequencer: there is no handoff")
        previous = rpc(self.gateway, "rollup_sequencer")["sequencer"]

        def changed() -> str | None:
            leader = rpc(self.gateway, "rollup_sequencer")["sequencer"]
            return leader if leader and leader.lower() != (previous or "").lower() else None

        for _ in range(MAX_HANDOFF_EPOCHS):  # a stake-weighted draw may name the same leader again
            l1_block = self.advance_epochs(1)
            try:
                return {"previous": previous, "next": wait_for(changed, 10.0, "another leader"), "l1Block": l1_block}
            except AssertionError:
                continue
        raise ScenarioError(f"the leader stayed {previous} for {MAX_HANDOFF_EPOCHS} epochs")

    # ----- processes (a devnet this session owns) -----
    def crash_sequencer(self, name: str | None = None) -> str:
        """SIGKILL a sequencer node (default: the leader); returns its name."""
        name = name or self.leader()
        processes = getattr(self.devnet, "processes", None)
        if processes is not None and name in processes:
            processes[name].kill()
            wait_for(lambda: name not in self._live_nodes(), self.timeout, f"{name} to stop answering")
        else:  # an attached devnet: its supervisor may restart the node at once, so watch the process
            node = next(n for n in self.chain["nodes"] if n["name"] == name)  # type: ignore[index]
            pid = int(node["pid"])
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not _runs(pid), self.timeout, f"{name} (pid {pid}) to die")
        return name

    def restart(self, name: str) -> None:
        """Start a stopped node again and wait until it has caught up with L1."""
        start = getattr(self.devnet, "start_node", None)
        if start is None:
            raise ScenarioError("restart needs a devnet this test session started (attached devnets "
                                "are restarted with `devnet sequencer start NAME`)")
        start(name)
        self.devnet.wait_node_ready(name)  # type: ignore[attr-defined]

    def recover(self, name: str) -> None:
        """After `crash_sequencer`: return once `name` runs and has caught up with L1 again. A devnet
        this session started is told to restart it; an attached devnet's supervisor restarts a node
        that died by itself, so this waits for that."""
        if getattr(self.devnet, "start_node", None) is not None:
            self.restart(name)
            return
        url = self.nodes[name]

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    return bool(json.loads(response.read()).get("ready"))
            except OSError:
                return False

        wait_for(ready, self.timeout, f"the devnet's supervisor to bring {name} back")
