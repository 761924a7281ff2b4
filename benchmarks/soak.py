"""Soak proofs for mode pos: invariants that must hold under load, crashes and many handoffs.

    .venv/bin/python benchmarks/soak.py load [--clients 20] [--seconds 60] [--runs 1]
    .venv/bin/python benchmarks/soak.py handoffs [--handoffs 50] [--rate 5] [--cpu-burner] [--slash]

Both run a devnet in mode pos with an epoch of 4 L1 blocks (1 s each) and a liveness timeout of 4.

1. load: N clients (threads, one sender account each) send signed transfers through the gateway
   for D seconds; half-way through, the node L1 names as leader is SIGKILLed, then restarted once
   L1 names another leader. Checks: every transaction the gateway accepted has a receipt within
   10 s of the end of the load; each one is in exactly one canonical block, the block its receipt
   names; each sender's nonces on chain are contiguous; the verifier derives those blocks from L1.
   Figures: accepted, landed, lost, duplicated, gateway refusals, send -> receipt latency (p50, p99),
   time to the last receipt, and the resident memory of every process (Anvil, gateway, nodes) at the
   start and end of the load, with its peak.
2. handoffs: one client sending ~5 transfers/s, optionally a CPU-bound process beside it, until H
   handoffs are SequencerChanged events on L1, with one SIGKILL + restart of the leader half-way
   (and, with --slash, a leader made to equivocate and slashed by the watchtowers). Checks:
   (a) no validator signed two different blocks at one height, across every node's
   rollup_getBlockSignature and every sequencer's signing journal (the equivocator excepted);
   (b) every accepted transaction landed exactly once; (c) the SequencerChanged events on L1 equal,
   in order, the sequencerChanged notifications a WebSocket subscriber on the gateway received.

Timings are printed, never checked. A violated invariant prints FAIL and the exit code is 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.handoffs import cpu_burner as burning_cpu  # noqa: E402
from devnet.network import Devnet, http_json, rpc_call  # noqa: E402
from toolkit.accounts import TEST_MNEMONIC, DevAccount, _derive, dev_accounts  # noqa: E402
from toolkit.l1.artifacts import load_artifact  # noqa: E402
from toolkit.testing import SubscriptionCollector, fast_config  # noqa: E402

CHAIN_ID = 901
EPOCH_LENGTH = 4  # L1 blocks
LIVENESS_TIMEOUT = 4  # L1 blocks
DEV_ACCOUNTS = 10  # prefunded on L2
RECEIPT_DEADLINE = 10.0  # seconds after the load ends
SINK = _derive(TEST_MNEMONIC, 300).address  # receives every transfer
REASONS = {0: "rotation", 1: "auction", 2: "slashed", 3: "unstaked", 4: "timeout", 5: "admin"}
FUNDING_WEI = 10 * 10**18
RPC_CHUNK = 200  # calls per JSON-RPC batch


# ----- results -----
@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class ScenarioResult:
    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, bool(ok), detail))

    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def report(self) -> str:
        lines = [f"== {self.name}"]
        width = max((len(k) for k in self.figures), default=0)
        lines += [f"  {key:<{width}}  {value}" for key, value in self.figures.items()]
        lines += [f"  note: {note}" for note in self.notes]
        for check in self.checks:
            lines.append(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}" + (f": {check.detail}" if check.detail else ""))
        lines.append(f"  verdict: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


# ----- JSON-RPC -----
def rpc_batch(url: str, calls: list[tuple[str, list[Any]]], timeout: float = 30.0) -> list[dict[str, Any]]:
    """Replies ({result} or {error}) to `calls`, in order, sent as JSON-RPC batches."""
    replies: list[dict[str, Any]] = []
    with requests.Session() as session:
        for start in range(0, len(calls), RPC_CHUNK):
            chunk = calls[start : start + RPC_CHUNK]
            body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(chunk)]
            answer = session.post(url, json=body, timeout=timeout).json()
            if isinstance(answer, dict):  # the whole batch was refused
                raise RuntimeError(f"batch refused by {url}: {answer.get('error')}")
            by_id = {reply.get("id"): reply for reply in answer}
            replies += [by_id.get(i, {"error": {"message": "no reply"}}) for i in range(len(chunk))]
    return replies


def poll(condition: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """`condition()`'s first truthy value before the deadline, else None (the caller reports it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (OSError, requests.RequestException, RuntimeError, ValueError):
            value = None  # a node restarting or briefly unreachable: ask again
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


# ----- the devnet -----
@contextmanager
def pos_devnet(validators: int, state_dir: Path | None, result: ScenarioResult) -> Iterator[Devnet]:
    """A devnet in mode pos, always stopped on exit. A scratch state dir (logs) is removed after a
    PASS and kept, with a note, after a FAIL or an exception."""
    scratch = None if state_dir is not None else Path(tempfile.mkdtemp(prefix="soak-"))
    network = Devnet(fast_config(state_dir or scratch, mode="pos", sequencers=validators,
                                 epoch_length=EPOCH_LENGTH, liveness_timeout=LIVENESS_TIMEOUT))
    passed = False
    try:
        network.up()
        yield network
        passed = result.ok
    finally:
        network.down()
        if not passed:
            result.notes.append(f"logs in {network.log_dir}")
        elif scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


class L1View:
    def __init__(self, network: Devnet) -> None:
        self.w3 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
        self.registry = self.w3.eth.contract(address=network.state["registry"]["address"],
                                             abi=load_artifact(network.state["registry"]["contract"])["abi"])
        self.names = {s["address"].lower(): s["name"] for s in network.state["sequencers"]}

    @property
    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def leader_name(self) -> str | None:
        leader = self.registry.functions.sequencerFor(CHAIN_ID, self.block_number).call()
        return self.names.get(leader.lower())

    def changes(self, from_block: int, to_block: int | None = None) -> list[dict[str, Any]]:
        """SequencerChanged events of our chain in from_block..to_block (default: the head), in order."""
        to_block = self.block_number if to_block is None else to_block
        if from_block > to_block:
            return []  # Anvil refuses a range that starts past its head
        events = self.registry.events.SequencerChanged().get_logs(from_block=from_block, to_block=to_block)
        return [{"epoch": int(e["args"]["epoch"]), "previous": e["args"]["previous"], "next": e["args"]["next"],
                 "reason": REASONS.get(int(e["args"]["reason"]), str(e["args"]["reason"])),
                 "l1Block": int(e["blockNumber"])}
                for e in sorted(events, key=lambda e: (e["blockNumber"], e["logIndex"]))
                if int(e["args"]["chainId"]) == CHAIN_ID]


@dataclass
class Crash:
    name: str
    killed_at: float  # seconds since the scenario's clock started
    l1_block: int
    other_leader_at: float | None = None
    ready_at: float | None = None

    def describe(self) -> str:
        other = f"{self.other_leader_at:.1f}" if self.other_leader_at is not None else "never"
        ready = f"{self.ready_at:.1f}" if self.ready_at is not None else "never"
        return (f"SIGKILL {self.name} (leader) at {self.killed_at:.1f} s (L1 block {self.l1_block}); "
                f"another leader at {other} s; restarted and ready at {ready} s")


def kill_leader_and_restart(network: Devnet, l1: L1View, clock: float) -> Crash:
    """SIGKILL the node L1 names as leader; restart it once L1 names another (or after 30 s)."""
    name = poll(l1.leader_name, timeout=10)
    if name is None:
        raise RuntimeError("L1 names no leader that runs a node")
    crash = Crash(name, time.monotonic() - clock, l1.block_number)
    network.processes[name].kill()
    if poll(lambda: l1.leader_name() not in (None, name), timeout=30, interval=0.2):
        crash.other_leader_at = time.monotonic() - clock
    network.start_node(name)
    network.wait_node_ready(name)
    crash.ready_at = time.monotonic() - clock
    return crash


def fund(network: Devnet, accounts: list[DevAccount]) -> None:
    """Fund accounts past the 10 prefunded ones from the dev accounts, and wait for the receipts."""
    gateway = network.gateway_url
    funders = dev_accounts(DEV_ACCOUNTS)
    nonces = {a.address: int(rpc_call(gateway, "eth_getTransactionCount", [a.address, "pending"]), 16)
              for a in funders}
    hashes = []
    for index, account in enumerate(accounts):
        funder = funders[index % len(funders)]
        tx = {"type": 2, "chainId": CHAIN_ID, "nonce": nonces[funder.address], "to": account.address,
              "value": FUNDING_WEI, "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
        raw = "0x" + bytes(Account.sign_transaction(tx, funder.private_key).raw_transaction).hex()
        hashes.append(rpc_call(gateway, "eth_sendRawTransaction", [raw]))
        nonces[funder.address] += 1
    if hashes and not poll(lambda: all(r.get("result") for r in rpc_batch(
            gateway, [("eth_getTransactionReceipt", [h]) for h in hashes])), timeout=60, interval=0.3):
        raise RuntimeError("funding transfers did not land within 60 s")


# ----- clients -----
@dataclass
class Sent:
    tx_hash: str
    sender: str
    nonce: int
    first_try: float  # monotonic
    accepted_at: float  # monotonic: the reply to the send that returned the hash
    attempts: int


@dataclass
class Ledger:
    """Every transfer the clients sent, shared by the client threads."""

    accepted: list[Sent] = field(default_factory=list)
    uncertain: list[Sent] = field(default_factory=list)  # moved on after "already known" / "nonce too low"
    refusals: Counter[str] = field(default_factory=Counter)
    replies: list[tuple[float, float, str]] = field(default_factory=list)  # (asked at, seconds, outcome) per send
    clock: float = field(default_factory=time.monotonic)  # the scenario's time 0
    wall_clock: float = field(default_factory=time.time)  # the same moment, for L2 block timestamps
    start_nonces: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _short(message: str) -> str:
    for marker in ("sequencer unreachable", "no node of this chain", "nonce too low", "already known"):
        if marker in message:
            return marker
    return message[:80]


class Client(threading.Thread):
    """One sender: a signed transfer every `interval` seconds (closed loop), resending the very same
    bytes after a refusal until some node takes them."""

    def __init__(self, gateway: str, account: DevAccount, ledger: Ledger, stop: threading.Event,
                 interval: float) -> None:
        super().__init__(daemon=True, name=f"client-{account.index}")
        self.gateway, self.account, self.ledger, self.stop, self.interval = gateway, account, ledger, stop, interval
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the scenario
            self.error = exc

    def _send(self, session: requests.Session, raw: str) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]}
        try:
            return session.post(self.gateway, json=body, timeout=15).json()
        except (requests.RequestException, ValueError) as exc:
            return {"error": {"message": f"client: {type(exc).__name__}"}}

    def _run(self) -> None:
        with requests.Session() as session:
            reply = session.post(self.gateway, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
                                                     "params": [self.account.address, "pending"]}, timeout=15).json()
            nonce = int(reply["result"], 16)
            with self.ledger.lock:
                self.ledger.start_nonces[self.account.address] = nonce
            next_send = time.monotonic()
            while not self.stop.is_set():
                tx = {"type": 2, "chainId": CHAIN_ID, "nonce": nonce, "to": SINK, "value": 1, "gas": 21_000,
                      "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
                signed = Account.sign_transaction(tx, self.account.private_key)
                raw, tx_hash = "0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex()
                first_try, attempts = time.monotonic(), 0
                while not self.stop.is_set():
                    attempts += 1
                    asked = time.monotonic()
                    reply = self._send(session, raw)
                    now = time.monotonic()
                    outcome = "accepted" if isinstance(reply.get("result"), str) else _short(
                        str(reply.get("error", {}).get("message", reply)))
                    with self.ledger.lock:
                        self.ledger.replies.append((asked - self.ledger.clock, now - asked, outcome))
                    if isinstance(reply.get("result"), str):
                        if reply["result"].lower() != tx_hash:
                            raise RuntimeError(f"gateway answered {reply['result']} for {tx_hash}")
                        with self.ledger.lock:
                            self.ledger.accepted.append(Sent(tx_hash, self.account.address, nonce, first_try, now,
                                                             attempts))
                        nonce += 1
                        break
                    message = str(reply.get("error", {}).get("message", reply))
                    with self.ledger.lock:
                        self.ledger.refusals[_short(message)] += 1
                    if "already known" in message or "nonce too low" in message:
                        # an earlier attempt did reach a node: these bytes are in a pool or a block
                        with self.ledger.lock:
                            self.ledger.uncertain.append(Sent(tx_hash, self.account.address, nonce, first_try, now,
                                                              attempts))
                        nonce += 1
                        break
                    self.stop.wait(0.2)  # refused: the same bytes again shortly
                next_send = max(next_send + self.interval, time.monotonic() - self.interval)
                self.stop.wait(max(0.0, next_send - time.monotonic()))


class BlockWatcher(threading.Thread):
    """Follows the chain through the gateway; the first time each tx hash is seen in each block."""

    def __init__(self, url: str, period: float = 0.1) -> None:
        super().__init__(daemon=True, name="block-watcher")
        self.url, self.period = url, period
        self.stop = threading.Event()
        self.seen: dict[tuple[str, str], float] = {}  # (tx hash, block hash) -> monotonic time
        self.blocks: dict[str, int] = {}  # every block hash read (also ones later reorged out) -> number
        self._highest = 0  # the highest block number read so far

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._step()
            except (OSError, requests.RequestException, RuntimeError, ValueError, KeyError, TypeError):
                pass  # the gateway switching backends: try again
            self.stop.wait(self.period)

    def _step(self) -> None:
        head = int(rpc_batch(self.url, [("eth_blockNumber", [])], timeout=5)[0]["result"], 16)
        # anything new, and the last few again: a reorg replaces blocks at heights already read
        numbers = list(range(max(1, min(head - 2, self._highest + 1)), head + 1))
        now = time.monotonic()
        for number, reply in zip(numbers, rpc_batch(self.url, [("eth_getBlockByNumber", [hex(n), False])
                                                               for n in numbers], timeout=5), strict=True):
            block = reply.get("result")
            if not block:
                continue
            self._highest = max(self._highest, number)
            self.blocks[block["hash"].lower()] = number
            for tx_hash in block["transactions"]:
                self.seen.setdefault((tx_hash.lower(), block["hash"]), now)

    def __enter__(self) -> BlockWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(10)


# ----- checks on what landed -----
@dataclass
class ChainScan:
    blocks: list[dict[str, Any]]  # canonical blocks 0..head with full transactions, one consistent chain
    where: dict[str, list[int]]  # tx hash -> block numbers holding it


def scan_chain(url: str, attempts: int = 5) -> ChainScan:
    """Every block 0..head of one node, re-read until the parent hashes link (no reorg mid-scan)."""
    for _ in range(attempts):
        head = int(rpc_call(url, "eth_blockNumber"), 16)
        replies = rpc_batch(url, [("eth_getBlockByNumber", [hex(n), True]) for n in range(head + 1)])
        blocks = [reply.get("result") for reply in replies]
        if all(blocks) and all(b["parentHash"] == a["hash"] for a, b in zip(blocks, blocks[1:], strict=False)):
            where: dict[str, list[int]] = defaultdict(list)
            for block in blocks:
                for tx in block["transactions"]:
                    where[tx["hash"].lower()].append(int(block["number"], 16))
            return ChainScan(blocks, where)
    raise RuntimeError(f"{url}: no consistent chain in {attempts} reads")


def wait_for_receipts(url: str, hashes: list[str], deadline: float) -> dict[str, tuple[dict[str, Any], float]]:
    """Receipts of `hashes` (tx hash -> (receipt, monotonic time found)), polled until `deadline`."""
    found: dict[str, tuple[dict[str, Any], float]] = {}
    while True:
        missing = [h for h in hashes if h not in found]
        if missing:
            try:
                replies = rpc_batch(url, [("eth_getTransactionReceipt", [h]) for h in missing], timeout=10)
            except (OSError, requests.RequestException, RuntimeError, ValueError):
                replies = []
            now = time.monotonic()
            for tx_hash, reply in zip(missing, replies, strict=False):
                if reply.get("result"):
                    found[tx_hash] = (reply["result"], now)
        if len(found) == len(hashes) or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


def check_landed(result: ScenarioResult, network: Devnet, ledger: Ledger, ended_at: float,
                 watcher: BlockWatcher | None = None) -> None:
    """Every accepted tx: a receipt within RECEIPT_DEADLINE of `ended_at`, in exactly one canonical block,
    the one its receipt names; per-sender nonces contiguous; the verifier derives those blocks from L1."""
    gateway = network.gateway_url
    accepted = ledger.accepted
    hashes = [s.tx_hash for s in accepted]
    receipts = wait_for_receipts(gateway, hashes, ended_at + RECEIPT_DEADLINE)
    missing = [h for h in hashes if h not in receipts]
    result.figures["accepted (a hash returned)"] = len(accepted)
    result.figures["uncertain (moved on after already known / nonce too low)"] = len(ledger.uncertain)
    result.figures["refusals by the gateway"] = dict(ledger.refusals.most_common(6)) or 0
    result.check(f"every accepted tx has a receipt within {RECEIPT_DEADLINE:.0f} s of the end", not missing,
                 f"{len(receipts)}/{len(hashes)}" + (f"; missing e.g. {missing[:3]}" if missing else ""))

    # the chain as one node (the gateway's current backend) holds it, re-read until consistent
    scan = scan_chain(gateway)
    hashes_at = {int(b["number"], 16): b["hash"] for b in scan.blocks}
    twice = {h: scan.where[h] for h in hashes if len(scan.where.get(h, [])) > 1}
    absent = [h for h in hashes if not scan.where.get(h)]
    mismatched = [h for h, (r, _) in receipts.items()
                  if hashes_at.get(int(r["blockNumber"], 16)) != r["blockHash"]
                  or scan.where.get(h) != [int(r["blockNumber"], 16)]]
    result.figures["landed (accepted txs in canonical blocks)"] = len(hashes) - len(absent)
    result.figures["lost (accepted, in no canonical block; goal 0)"] = len(absent)
    result.figures["duplicated (in more than one block; goal 0)"] = len(twice)
    result.check("each accepted tx in exactly one canonical block, the one its receipt names",
                 not twice and not absent and not mismatched,
                 f"twice: {dict(list(twice.items())[:3])}; absent: {absent[:3]}; receipt/block mismatch: "
                 f"{mismatched[:3]}" if (twice or absent or mismatched) else f"{len(hashes)} txs, head {len(scan.blocks) - 1}")
    failed = [h for h, (r, _) in receipts.items() if int(r["status"], 16) != 1]
    result.check("every receipt has status 1", not failed, f"failed: {failed[:3]}" if failed else "")

    # per sender: nonces on chain contiguous from 0, and every one we moved past is there
    senders = {s.sender for s in [*accepted, *ledger.uncertain]}
    on_chain: dict[str, list[int]] = defaultdict(list)
    for block in scan.blocks:
        for tx in block["transactions"]:
            if tx["from"] in senders:
                on_chain[tx["from"]].append(int(tx["nonce"], 16))
    gaps = {}
    for sender in senders:
        nonces = sorted(on_chain[sender])
        if nonces != list(range(len(nonces))):
            gaps[sender] = [n for n, c in Counter(nonces).items() if c > 1][:3] or "gap"
        moved_past = max((s.nonce for s in [*accepted, *ledger.uncertain] if s.sender == sender), default=-1)
        if len(nonces) <= moved_past:
            gaps[sender] = f"{len(nonces)} on chain, sent up to nonce {moved_past}"
    result.check("nonces per sender contiguous (no gap, no repeat)", not gaps, str(dict(list(gaps.items())[:3])) if gaps else
                 f"{len(senders)} senders")
    uncertain_missing = [s.tx_hash for s in ledger.uncertain if not scan.where.get(s.tx_hash)]
    if uncertain_missing:
        result.notes.append(f"{len(uncertain_missing)} 'uncertain' txs are not on chain (a later nonce "
                            f"check covers them): {uncertain_missing[:3]}")

    # latency: send (the reply that gave the hash) -> first seen in the block it landed in
    latencies = []
    for sent in accepted:
        if sent.tx_hash not in receipts:
            continue
        receipt, polled_at = receipts[sent.tx_hash]
        seen = watcher.seen.get((sent.tx_hash, receipt["blockHash"])) if watcher is not None else None
        latencies.append((seen if seen is not None else polled_at) - sent.accepted_at)
    if latencies:
        result.figures["send -> receipt latency p50"] = f"{statistics.median(latencies):.2f} s"
        result.figures["send -> receipt latency p99"] = f"{percentile(latencies, 0.99):.2f} s"
        result.figures["send -> receipt latency max"] = f"{max(latencies):.2f} s"
        last = max(s.accepted_at + lat for s, lat in zip([s for s in accepted if s.tx_hash in receipts],
                                                           latencies, strict=True))
        result.figures["time to last receipt (after the load ended)"] = f"{max(0.0, last - ended_at):.2f} s"
    if ledger.replies:
        slowest = sorted(ledger.replies, key=lambda r: -r[1])[:3]
        result.figures["eth_sendRawTransaction reply time p50 / p99"] = (
            f"{statistics.median(r[1] for r in ledger.replies):.3f} s / "
            f"{percentile([r[1] for r in ledger.replies], 0.99):.3f} s")
        result.figures["slowest replies (seconds, asked at, outcome)"] = ", ".join(
            f"{seconds:.2f} s at {at:.1f} s ({outcome})" for at, seconds, outcome in slowest)
    retried = [s.attempts - 1 for s in accepted if s.attempts > 1]
    result.figures["accepted after resending (txs, extra sends)"] = f"{len(retried)}, {sum(retried)}"
    try:
        status = http_json(gateway, 2)
        result.figures["gateway re-sent / still unconfirmed"] = f"{status['resent']} / {status['unconfirmed']}"
    except (OSError, ValueError, KeyError):
        pass

    # how the chain moved meanwhile (timestamps are whole seconds)
    stamps = [int(b["timestamp"], 16) for b in scan.blocks
              if ledger.wall_clock - 1 <= int(b["timestamp"], 16) <= ledger.wall_clock + (ended_at - ledger.clock) + 1]
    if len(stamps) > 1:
        result.figures["L2 blocks in the run, longest gap between two"] = (
            f"{len(stamps)}, {max(b - a for a, b in zip(stamps, stamps[1:], strict=False))} s")
    handoff_summary(result, network)

    # the blocks holding them are the ones the verifier derives from L1
    verifier = network.node_url("verifier-0")
    last_block = max((int(r["blockNumber"], 16) for r, _ in receipts.values()), default=0)
    derived = poll(lambda: rpc_call(verifier, "rollup_syncStatus")["safeL2"]["number"] >= last_block, timeout=60, interval=0.5)
    numbers = sorted({int(r["blockNumber"], 16) for r, _ in receipts.values()})
    differ = []
    if derived:
        replies = rpc_batch(verifier, [("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        differ = [n for n, reply in zip(numbers, replies, strict=True)
                  if (reply.get("result") or {}).get("hash") != hashes_at.get(n)]
    result.check("the verifier derives the same blocks from L1 (safe head)", derived and not differ,
                 f"safe head reached {last_block}: {bool(derived)}; blocks that differ: {differ[:5]}")


def handoff_summary(result: ScenarioResult, network: Devnet) -> None:
    """What the sequencers' mempool handoffs did (counters restart with a node); drops are noted."""
    forwarded, dropped, reasons = 0, 0, Counter()
    for name in network.sequencer_names:
        try:
            handoff = rpc_call(network.node_url(name), "rollup_syncStatus")["sequencing"].get("handoff") or {}
        except (OSError, RuntimeError, KeyError, ValueError):
            continue
        forwarded += int(handoff.get("forwarded", 0))
        dropped += int(handoff.get("dropped", 0))
        reasons.update(reason.split(":")[0] for reason in (handoff.get("recentRejections") or {}).values())
    result.figures["mempool handoff: txs forwarded / dropped on the leader's refusal"] = f"{forwarded} / {dropped}"
    if dropped:
        result.notes.append(f"sequencers dropped {dropped} handed-off txs the leader refused "
                            f"(recent reasons: {dict(reasons)}); only the gateway's re-send brings those back")


def process_memory(network: Devnet) -> dict[str, tuple[int, int | None, int | None]]:
    """Each devnet process: (pid, resident set now, its peak so far), in kB, from /proc (None where unreadable)."""
    memory = {}
    for name, process in network.processes.items():
        pid = process.pid
        fields: dict[str, int] = {}
        with contextlib.suppress(OSError, TypeError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0])
        memory[name] = (pid, fields.get("VmRSS"), fields.get("VmHWM"))
    return memory


def memory_figures(result: ScenarioResult, start: dict[str, tuple[int, int | None, int | None]],
                   end: dict[str, tuple[int, int | None, int | None]]) -> None:
    def mb(kb: int | None) -> str:
        return "?" if kb is None else f"{kb / 1024:.0f}"

    for name in sorted(set(start) | set(end)):
        pid_start, rss_start, _ = start.get(name, (None, None, None))
        pid_end, rss_end, peak = end.get(name, (None, None, None))
        restarted = " (restarted: the end is the new process)" if pid_start != pid_end else ""
        result.figures[f"RSS MB {name}: start -> end (peak)"] = f"{mb(rss_start)} -> {mb(rss_end)} ({mb(peak)}){restarted}"


def client_errors(result: ScenarioResult, clients: list[Client]) -> None:
    errors = [f"{c.name}: {c.error!r}" for c in clients if c.error is not None]
    result.check("clients ran without a protocol error", not errors, "; ".join(errors[:3]))


# ----- scenario 1: load -----
def run_load(clients: int = 20, seconds: float = 60.0, interval: float = 0.5, state_dir: Path | None = None,
             log: Callable[[str], None] = print) -> ScenarioResult:
    result = ScenarioResult(f"load: {clients} clients x {seconds:g} s, one send per {interval:g} s each, "
                            f"SIGKILL + restart of the leader half-way")
    accounts = dev_accounts(clients)
    with pos_devnet(3, state_dir, result) as network:
        log(f"devnet up in {network.state['startup_seconds']} s (state dir {network.state_dir})")
        l1 = L1View(network)
        fund(network, [a for a in accounts if a.index >= DEV_ACCOUNTS])
        ledger, stop = Ledger(), threading.Event()
        threads = [Client(network.gateway_url, account, ledger, stop, interval) for account in accounts]
        start_block = l1.block_number + 1
        memory_at_start = process_memory(network)
        with BlockWatcher(network.gateway_url) as watcher:
            clock = ledger.clock = time.monotonic()
            ledger.wall_clock = time.time()
            try:
                for thread in threads:
                    thread.start()
                time.sleep(max(0.0, clock + seconds / 2 - time.monotonic()))  # the schedule, not a condition
                log(f"{time.monotonic() - clock:.1f} s: killing the leader")
                crash = kill_leader_and_restart(network, l1, clock)
                log(crash.describe())
                time.sleep(max(0.0, clock + seconds - time.monotonic()))
            finally:
                stop.set()
                stopped_at = time.monotonic()
                for thread in threads:
                    thread.join(20)
            ended_at = time.monotonic()
            result.figures["load seconds"] = (f"{stopped_at - clock:.1f} (clients told to stop), "
                                              f"last reply {ended_at - stopped_at:.1f} s later")
            result.figures["crash"] = crash.describe()
            client_errors(result, threads)
            check_landed(result, network, ledger, ended_at, watcher)
        memory_figures(result, memory_at_start, process_memory(network))
        changes = l1.changes(start_block)
        result.figures["handoffs on L1 during the run"] = f"{len(changes)} {dict(Counter(c['reason'] for c in changes))}"
        result.figures["throughput (accepted / load seconds)"] = f"{len(ledger.accepted) / (ended_at - clock):.1f} tx/s"
    return result


# ----- scenario 2: handoffs -----
def signature_scan(network: Devnet, also: set[str]) -> tuple[dict[tuple[str, int], set[str]], dict[str, str]]:
    """(signer, number) -> block hashes, from every node's rollup_getBlockSignature for its blocks 1..head
    and for the block hashes in `also` (blocks seen during the run, reorged-out ones included), and from
    every sequencer's signing journal; also which node could not be asked (name -> why)."""
    seen: dict[tuple[str, int], set[str]] = defaultdict(set)
    skipped = {}
    for name in network.node_configs:
        url = network.node_url(name)
        try:
            head = int(rpc_call(url, "eth_blockNumber"), 16)
            replies = rpc_batch(url, [("rollup_getBlockSignature", [hex(n)]) for n in range(1, head + 1)]
                                + [("rollup_getBlockSignature", [h]) for h in sorted(also)])
        except (OSError, RuntimeError, ValueError, requests.RequestException) as exc:
            skipped[name] = repr(exc)
            continue
        for reply in replies:
            signature = reply.get("result")
            if signature:
                seen[(signature["signer"].lower(), int(signature["number"], 16))].add(signature["blockHash"].lower())
    for sequencer in network.state["sequencers"]:
        journal = network.state_dir / "nodes" / sequencer["name"] / f"signed-blocks-{CHAIN_ID}.jsonl"
        if not journal.exists():
            continue
        for line in journal.read_text().splitlines():
            try:
                record = json.loads(line)
                if "blockHash" in record and int(record["chainId"]) == CHAIN_ID:
                    seen[(sequencer["address"].lower(), int(record["number"]))].add(record["blockHash"].lower())
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line after a SIGKILL: that signature never left the node
    return seen, skipped


def run_handoffs(handoffs: int = 50, rate: float = 5.0, cpu_burner: bool = False, slash: bool = False,
                 max_seconds: float | None = None, state_dir: Path | None = None,
                 log: Callable[[str], None] = print) -> ScenarioResult:
    validators = 4 if slash else 3
    result = ScenarioResult(f"handoffs: {handoffs} handoffs, {validators} validators, a client at {rate:g} tx/s"
                            + (", a CPU burner beside it" if cpu_burner else "")
                            + (", one leader made to equivocate" if slash else "") + ", one SIGKILL + restart")
    budget = max_seconds if max_seconds is not None else 60 + handoffs * EPOCH_LENGTH * 4
    with burning_cpu() if cpu_burner else contextlib.nullcontext(), \
            pos_devnet(validators, state_dir, result) as network:
        log(f"devnet up in {network.state['startup_seconds']} s (state dir {network.state_dir})")
        l1 = L1View(network)
        ledger, stop = Ledger(), threading.Event()
        client = Client(network.gateway_url, dev_accounts(2)[1], ledger, stop, 1.0 / rate)
        ws_url = network.gateway_url.replace("http://", "ws://")
        equivocator: str | None = None
        proof_hashes: set[str] = set()
        crash: Crash | None = None
        with BlockWatcher(network.gateway_url) as watcher, \
                SubscriptionCollector(ws_url, "sequencerChanged") as collector:
            start_block = l1.block_number + 1  # the subscription exists: later handoffs are notified
            clock = ledger.clock = time.monotonic()
            ledger.wall_clock = time.time()
            client.start()
            try:
                changes: list[dict[str, Any]] = []
                while len(changes) < handoffs and time.monotonic() - clock < budget:
                    changes = l1.changes(start_block)
                    if crash is None and len(changes) >= handoffs // 2:
                        log(f"{time.monotonic() - clock:.1f} s, {len(changes)} handoffs: killing the leader")
                        crash = kill_leader_and_restart(network, l1, clock)
                        log(crash.describe())
                    if slash and equivocator is None and len(changes) >= (3 * handoffs) // 4:
                        equivocator = equivocate(network, l1, result, log, proof_hashes)
                    time.sleep(0.5)  # poll interval; the loop ends on the count or the budget
            finally:
                stop.set()
                client.join(20)
            ended_at = time.monotonic()
            result.figures["run seconds"] = f"{ended_at - clock:.1f}"
            result.check(f"{handoffs} handoffs seen on L1 within {budget:.0f} s", len(changes) >= handoffs,
                         f"{len(changes)} seen")
            if crash is not None:
                result.figures["crash"] = crash.describe()
            result.check("the leader was SIGKILLed and restarted", crash is not None and crash.ready_at is not None)
            client_errors(result, [client])

            # (c) L1 events == gateway notifications, in order
            last_l1 = l1.block_number
            events = l1.changes(start_block, last_l1)
            keys = ("epoch", "previous", "next", "reason", "l1Block")

            def notified() -> list[dict[str, Any]]:
                return [{k: n.get(k) for k in keys} for n in list(collector.notices)
                        if n.get("chainId", CHAIN_ID) == CHAIN_ID and start_block <= n.get("l1Block", 0) <= last_l1]

            poll(lambda: len(notified()) >= len(events), timeout=15, interval=0.2)
            notices = notified()
            result.figures["handoffs on L1"] = len(events)
            result.figures["handoff reasons"] = dict(Counter(e["reason"] for e in events))
            result.figures["sequencerChanged notifications (gateway WS)"] = (
                f"{len(notices)} in range, {len(collector.notices)} in all")
            gateway_log = network.log_dir / "gateway.log"
            switches = gateway_log.read_text(errors="replace").count("backend WebSocket lost") if gateway_log.exists() else 0
            result.figures["gateway WS relay switched backend (gateway log)"] = f"{switches} time(s)"
            first_diff = next((i for i, (a, b) in enumerate(zip(events, notices, strict=False)) if a != b), None)
            result.check("(c) SequencerChanged events on L1 == gateway notifications, in order",
                         notices == events,
                         "" if notices == events else
                         f"{len(events)} events, {len(notices)} notices; first difference at {first_diff}: "
                         f"L1 {events[first_diff] if first_diff is not None else events[len(notices):][:2]} vs "
                         f"WS {notices[first_diff] if first_diff is not None else notices[len(events):][:2]}")

            # (b) every accepted tx landed exactly once
            check_landed(result, network, ledger, ended_at, watcher)

        # (a) no validator signed two blocks at one height
        seen, skipped = signature_scan(network, set(watcher.blocks) | proof_hashes)
        double = {key: hashes for key, hashes in seen.items() if len(hashes) > 1}
        honest_double = {k: v for k, v in double.items() if equivocator is None or k[0] != equivocator.lower()}
        result.figures["(signer, height) pairs checked, block hashes asked for"] = (
            f"{len(seen)}, {len(watcher.blocks | dict.fromkeys(proof_hashes, 0))}")
        if equivocator is not None:
            caught = sorted(n for s, n in double if s == equivocator.lower())
            result.figures["heights the equivocator signed twice"] = caught
            result.check("(a) the scan sees the deliberate equivocation (the check can fail)", bool(caught))
        result.check("(a) no validator signed two different blocks at one height", not honest_double and not skipped,
                     (f"{len(honest_double)} pairs: " + "; ".join(f"{s} #{n}: {sorted(h)}" for (s, n), h in
                                                               list(honest_double.items())[:3]))
                     if honest_double else (f"nodes not scanned: {skipped}" if skipped else ""))
    return result


def equivocate(network: Devnet, l1: L1View, result: ScenarioResult, log: Callable[[str], None],
               proof_hashes: set[str]) -> str | None:
    """Make the leader sign a second block at its head; wait for a watchtower to get it slashed."""
    name = poll(l1.leader_name, timeout=10)
    if name is None:
        return None
    address = next(s["address"] for s in network.state["sequencers"] if s["name"] == name)
    from_block = l1.block_number
    proof = poll(lambda: rpc_call(network.admin_url(name), "devnet_equivocate"), timeout=10, interval=0.2)
    if not proof:
        result.notes.append(f"{name} would not equivocate (no longer leading?)")
        return None
    log(f"{name} signed two blocks at height {proof['number']}")
    proof_hashes.update(block["blockHash"].lower() for block in proof["blocks"])
    slashed = poll(lambda: [e for e in l1.registry.events.Slashed().get_logs(from_block=from_block)
                            if e["args"]["validator"] == address], timeout=30, interval=0.5)
    result.check(f"the equivocating leader {name} was slashed by a watchtower", bool(slashed))
    return address


# ----- command line -----
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="scenario", required=True)
    load = sub.add_parser("load", help="N clients under load, SIGKILL + restart of the leader half-way")
    load.add_argument("--clients", type=int, default=20)
    load.add_argument("--seconds", type=float, default=60.0)
    load.add_argument("--interval", type=float, default=0.5, help="seconds between one client's sends")
    load.add_argument("--runs", type=int, default=1)
    handoffs = sub.add_parser("handoffs", help="a steady client through H handoffs")
    handoffs.add_argument("--handoffs", type=int, default=50)
    handoffs.add_argument("--rate", type=float, default=5.0, help="transfers per second")
    handoffs.add_argument("--cpu-burner", action="store_true", help="run a CPU-bound process beside the devnet")
    handoffs.add_argument("--slash", action="store_true", help="4 validators; one leader equivocates and is slashed")
    handoffs.add_argument("--max-seconds", type=float, default=None)
    for scenario in (load, handoffs):
        scenario.add_argument("--state-dir", type=Path, default=None, help="keep the devnet's logs here")
    args = parser.parse_args(argv)

    results = []
    if args.scenario == "load":
        for run in range(args.runs):
            state_dir = args.state_dir / f"run-{run + 1}" if args.state_dir else None
            results.append(run_load(args.clients, args.seconds, args.interval, state_dir))
            print(f"run {run + 1}/{args.runs}\n{results[-1].report()}", flush=True)
    else:
        results.append(run_handoffs(args.handoffs, args.rate, args.cpu_burner, args.slash, args.max_seconds,
                                    args.state_dir))
        print(results[-1].report(), flush=True)
    ok = all(r.ok for r in results)
    print(f"overall: {'PASS' if ok else 'FAIL'} ({sum(r.ok for r in results)}/{len(results)} runs passed)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
