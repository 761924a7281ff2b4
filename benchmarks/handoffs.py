"""Handoff figures for decentralised sequencing, each beside a reference measured in the same run.

    .venv/bin/python benchmarks/handoffs.py [--handoffs 20] [--failovers 3] [--cpu-burner]

1. Handoff gap at epoch boundaries (mode pos, 3 validators, all healthy): wall time between the
   last L2 block of the old leader and the first of the new one, median and worst over N
   handoffs. Reference: the gap between consecutive blocks of one leader (the L2 block time).
2. Failover after the leader is SIGKILLed mid-epoch: time until the `timeout` handoff on L1 and
   until another validator's first block. Reference: the liveness timeout (L1 blocks x L1 block
   time). It counts from the dead leader's last batch, not from the kill, so failover can beat it.
3. L1 gas of one batch posted with 3, 7 and 21 attestations (every validator signs).
   Reference: the same batch in mode single, which carries none.

A block's builder is the first sequencer node whose WebSocket `newHeads` announces it (the
builder announces before it gossips). Nothing here asserts: these are numbers to watch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from eth_account import Account
from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import signed_transfers, with_anvil  # noqa: E402
from devnet.config import (  # noqa: E402
    BatcherSettings,
    DevnetConfig,
    L1Settings,
    NodeSettings,
    SequencerSettings,
)
from devnet.deploy import RegistrySettings, deploy_contracts  # noqa: E402
from devnet.network import Devnet, rpc_call  # noqa: E402
from toolkit.accounts import dev_accounts  # noqa: E402
from toolkit.batch import Batch, BatchBlock, encode_batch  # noqa: E402
from toolkit.l1.artifacts import load_artifact  # noqa: E402
from toolkit.rpc.ws_subscription import notifications  # noqa: E402
from toolkit.sequencer.attestation import sign_digest  # noqa: E402

L1_BLOCK_SECONDS = 1.0
TIMEOUT_REASON = 4  # SequencerChangeReason.Timeout


@dataclass
class Arrival:
    number: int
    builder: str
    seen_at: float  # time.monotonic()


@dataclass
class HeadWatcher:
    """Subscribes to `newHeads` on every sequencer node; keeps the first arrival of each block hash."""

    urls: dict[str, str]  # node name -> ws URL
    first_seen: dict[str, Arrival] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _subscribed: set[str] = field(default_factory=set)
    _thread: threading.Thread | None = None

    def __enter__(self) -> HeadWatcher:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while len(self._subscribed) < len(self.urls):
            if time.monotonic() > deadline:
                raise RuntimeError(f"newHeads subscriptions not ready: {sorted(set(self.urls) - self._subscribed)}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    async def _run(self) -> None:
        await asyncio.gather(*(self._watch(name, url) for name, url in self.urls.items()))

    async def _watch(self, name: str, url: str) -> None:
        while not self._stop.is_set():
            try:
                async for head in notifications(url, "newHeads", self._stop, lambda: self._subscribed.add(name)):
                    with self._lock:
                        self.first_seen.setdefault(head["hash"], Arrival(int(head["number"], 16), name, time.monotonic()))
            except (OSError, websockets.ConnectionClosed):
                await asyncio.sleep(0.2)  # a killed node: try again until told to stop

    def snapshot(self) -> dict[str, Arrival]:
        """The first arrival of every block hash announced so far (a copy, safe to read)."""
        with self._lock:
            return dict(self.first_seen)

    def canonical(self, reader: Web3, first: int, last: int) -> list[Arrival]:
        """Arrivals of the canonical blocks first..last, in order (blocks nobody announced are skipped)."""
        seen = self.snapshot()
        arrivals = []
        for number in range(first, last + 1):
            block_hash = "0x" + bytes(reader.eth.get_block(number)["hash"]).hex()
            if block_hash in seen:
                arrivals.append(seen[block_hash])
        return arrivals


def pos_config(state_dir: Path, epoch_length: int, liveness_timeout: int) -> DevnetConfig:
    return DevnetConfig(
        state_dir=state_dir,
        mode="pos",
        sequencers=SequencerSettings(count=3, liveness_timeout=liveness_timeout),
        l1=L1Settings(port=0, block_time=L1_BLOCK_SECONDS, epoch_length=epoch_length),
        nodes=NodeSettings(gateway_port=0, sequencer_port=0, verifier_port=0),
        batcher=BatcherSettings(max_blocks=4, max_seconds=1.5),
    ).validate()


def watch_urls(network: Devnet) -> dict[str, str]:
    return {s["name"]: network.node_url(s["name"]).replace("http://", "ws://") for s in network.state["sequencers"]}


def bench_handoff_gaps(handoffs: int, epoch_length: int,
                       config: Callable[[Path], DevnetConfig] | None = None) -> tuple[list[float], list[float]]:
    """Returns (gaps at handoffs, gaps between blocks of one leader), in seconds; `config` (a state
    dir -> the devnet's config) defaults to mode pos with that epoch length."""
    with tempfile.TemporaryDirectory() as state_dir:
        network = Devnet(config(Path(state_dir)) if config is not None
                         else pos_config(Path(state_dir), epoch_length, liveness_timeout=epoch_length * 4))
        network.up()
        try:
            reader = Web3(HTTPProvider(network.node_url("verifier-0")))
            with HeadWatcher(watch_urls(network)) as watcher:
                first = reader.eth.block_number + 1
                deadline = time.monotonic() + 30 + handoffs * epoch_length * L1_BLOCK_SECONDS * 4
                while time.monotonic() < deadline:
                    arrivals = watcher.canonical(reader, first, reader.eth.block_number)
                    if _count_handoffs(arrivals) >= handoffs:
                        break
                    time.sleep(L1_BLOCK_SECONDS)  # poll: a handoff can come with any L1 block
        finally:
            network.down()
    pairs = list(zip(arrivals, arrivals[1:], strict=False))
    at_handoffs = [b.seen_at - a.seen_at for a, b in pairs if a.builder != b.builder and b.number == a.number + 1]
    steady = [b.seen_at - a.seen_at for a, b in pairs if a.builder == b.builder and b.number == a.number + 1]
    return at_handoffs[:handoffs], steady


def _count_handoffs(arrivals: list[Arrival]) -> int:
    return sum(a.builder != b.builder for a, b in zip(arrivals, arrivals[1:], strict=False))


def bench_failover(liveness_timeout: int) -> tuple[float, float]:
    """Kill the leader mid-epoch; returns (seconds to the next validator's first block, to the L1 event)."""
    epoch_length = 60
    with tempfile.TemporaryDirectory() as state_dir:
        network = Devnet(pos_config(Path(state_dir), epoch_length, liveness_timeout))
        network.up()
        try:
            l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
            registry = l1.eth.contract(address=network.state["registry"]["address"],
                                       abi=load_artifact("StakingRegistry")["abi"])
            reader = Web3(HTTPProvider(network.node_url("verifier-0")))
            while reader.eth.get_block("safe")["number"] < 1:  # the leader is live: it has posted a batch
                time.sleep(0.1)
            while epoch_length - l1.eth.block_number % epoch_length < liveness_timeout * 3:
                time.sleep(L1_BLOCK_SECONDS)  # not near a boundary: rotation must not do the failover
            leader = registry.functions.sequencerFor(901, l1.eth.block_number).call().lower()
            victim = next(s["name"] for s in network.state["sequencers"] if s["address"].lower() == leader)
            with HeadWatcher(watch_urls(network)) as watcher:
                start_block = l1.eth.block_number
                network.processes[victim].kill()
                killed_at = time.monotonic()
                event_at = None
                deadline = killed_at + liveness_timeout * L1_BLOCK_SECONDS * 10 + 30
                while time.monotonic() < deadline:
                    if event_at is None and any(
                        e["args"]["reason"] == TIMEOUT_REASON and e["args"]["previous"].lower() == leader
                        for e in registry.events.SequencerChanged().get_logs(from_block=start_block)
                    ):
                        event_at = time.monotonic()
                    taken_over = [a.seen_at for a in watcher.snapshot().values()
                                  if a.builder != victim and a.seen_at > killed_at]
                    if taken_over and event_at is not None:
                        # keep only blocks the verifier holds as canonical
                        head = reader.eth.block_number
                        canonical = [a for a in watcher.canonical(reader, max(1, head - 50), head)
                                     if a.builder != victim and a.seen_at > killed_at]
                        if canonical:
                            return min(a.seen_at for a in canonical) - killed_at, event_at - killed_at
                    time.sleep(0.1)
            raise RuntimeError("no validator took over after the leader was killed")
        finally:
            network.down()


def bench_attestation_gas(validator_counts: list[int], transfers: int) -> dict[int, int]:
    """L1 gas of one batch with every validator's attestation; key 0 is mode single (no attestations)."""
    raws = signed_transfers(transfers, 901)
    data = encode_batch(Batch(901, 1, b"\0" * 32, (BatchBlock(1, 1, 0, 0, tuple(raws)),)))
    keys = [a.private_key for a in dev_accounts(max(validator_counts) + 1)]
    results = {}
    for count in [0, *validator_counts]:
        results[count] = with_anvil(lambda url, count=count: _post_with_attestations(url, keys, count, data))
    return results


def _post_with_attestations(url: str, keys: list[str], count: int, data: bytes) -> int:
    rpc_call(url, "evm_setAutomine", [True])
    for key in keys:
        rpc_call(url, "anvil_setBalance", [Account.from_key(key).address, hex(100 * 10**18)])
    admin, validators = keys[0], keys[1 : count + 1] if count else keys[1:2]
    mode = "pos" if count else "single"
    deployment = deploy_contracts(url, admin, mode, 901, validators, RegistrySettings(epoch_length=10_000))
    w3 = Web3(HTTPProvider(url))
    inbox = w3.eth.contract(address=deployment.inbox, abi=load_artifact("Inbox")["abi"])
    registry = w3.eth.contract(address=deployment.registry, abi=load_artifact(deployment.registry_contract)["abi"])
    leader = registry.functions.sequencerFor(901, w3.eth.block_number + 1).call()
    attestations = b""
    if count:
        digest = inbox.functions.batchDigest(901, 1, 1, 0, Web3.keccak(data)).call()
        signed = sorted((sign_digest(key, digest) for key in validators), key=lambda s: int(s[0], 16))
        attestations = b"".join(signature for _, signature in signed)
    leader_key = next(key for key in validators if Account.from_key(key).address == leader)
    tx = inbox.functions.postBatch(901, 1, 1, 0, data, attestations).build_transaction(
        {"from": leader, "nonce": w3.eth.get_transaction_count(leader), "gas": 10_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(Account.sign_transaction(tx, leader_key).raw_transaction))
    if receipt["status"] != 1:
        raise RuntimeError(f"batch with {count} attestations reverted")
    return int(receipt["gasUsed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handoffs", type=int, default=20)
    parser.add_argument("--epoch-length", type=int, default=4, help="L1 blocks per epoch for the handoff run")
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument("--liveness-timeout", type=int, default=4, help="L1 blocks")
    parser.add_argument("--batch-transfers", type=int, default=100)
    parser.add_argument("--cpu-burner", action="store_true",
                        help="measure handoffs and failover again with one CPU-bound process running beside")
    args = parser.parse_args()

    gas = bench_attestation_gas([3, 7, 21], args.batch_transfers)
    print(f"L1 gas of one batch ({args.batch_transfers} transfers)")
    print(f"  mode single, no attestations (reference) {gas[0]:10,d} gas")
    for count in (3, 7, 21):
        extra = gas[count] - gas[0]
        print(f"  pos, {count:2d} attestations              {gas[count]:10,d} gas  "
              f"(ratio {gas[count] / gas[0]:.2f}; {extra / count:,.0f} gas per attestation)")

    report_handoffs(args, "")
    if args.cpu_burner:
        with cpu_burner():
            report_handoffs(args, " - with one CPU-bound process beside the devnet")


@contextlib.contextmanager
def cpu_burner() -> Iterator[None]:
    """One CPU-bound process (`while 1: pass`) for as long as the block runs; always stopped."""
    burner = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


def report_handoffs(args: argparse.Namespace, label: str) -> None:
    gaps, steady = bench_handoff_gaps(args.handoffs, args.epoch_length)
    block_time = statistics.median(steady)
    print(f"handoff gap at epoch boundaries (pos, 3 validators, epoch {args.epoch_length} L1 blocks){label}, n={len(gaps)}")
    print(f"  median                    {statistics.median(gaps):6.2f} s  (ratio to block time {statistics.median(gaps) / block_time:.2f})")
    print(f"  worst                     {max(gaps):6.2f} s  (ratio to block time {max(gaps) / block_time:.2f})")
    print(f"  one leader's block time   {block_time:6.2f} s  (reference, median of {len(steady)})")

    floor = args.liveness_timeout * L1_BLOCK_SECONDS
    runs = [bench_failover(args.liveness_timeout) for _ in range(args.failovers)]
    blocks = [r[0] for r in runs]
    events = [r[1] for r in runs]
    print(f"failover after SIGKILL of the leader (liveness timeout {args.liveness_timeout} L1 blocks){label}, n={len(runs)}")
    print(f"  to the timeout event      median {statistics.median(events):6.2f} s")
    print(f"  to the next leader's block median {statistics.median(blocks):5.2f} s, worst {max(blocks):.2f} s  "
          f"(ratio to the timeout {statistics.median(blocks) / floor:.2f})")
    print(f"  liveness timeout (reference) {floor:4.2f} s  (counted from the dead leader's last batch)")


if __name__ == "__main__":
    main()
