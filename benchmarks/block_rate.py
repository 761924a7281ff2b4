"""Sub-second blocks: blocks per second and inclusion latency at a short block time, beside Anvil.

    .venv/bin/python benchmarks/block_rate.py [--block-time 0.1] [--seconds 10] [--rate 200] [--mode single]

For the devnet (its gateway, the one URL clients use) and for Anvil started with the same
`--block-time` (the reference, measured in the same run):
1. idle: blocks per second over N seconds;
2. under load: R transfers per second sent from 10 senders: blocks per second, transfers
   included per second, and p50 / p99 send -> seen-in-a-block latency;
3. the devnet's L2 head timestamp against the wall clock (the most it ran ahead: goal never,
   with header timestamps in whole seconds), and how far the safe head lags at the end.
Nothing here asserts: these are numbers to watch, not tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from eth_account import Account

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.soak import BlockWatcher, percentile, rpc_batch  # noqa: E402
from devnet.network import rpc_call  # noqa: E402
from toolkit.accounts import dev_accounts  # noqa: E402
from toolkit.testing import fast_config  # noqa: E402
from toolkit.testing.anvil import running_anvil  # noqa: E402
from toolkit.testing.running import running_devnet  # noqa: E402

SENDERS = dev_accounts(10)
SENDERS_THREADS = 4


@dataclass
class Figures:
    idle_blocks_per_second: float = 0.0
    load_blocks_per_second: float = 0.0
    included_per_second: float = 0.0
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    most_ahead: float | None = None  # max(L2 head timestamp - wall clock) seen, seconds (devnet only)
    safe_lag: int | None = None  # unsafe - safe head at the end, blocks (devnet only)


def head_number(url: str) -> int:
    return int(rpc_call(url, "eth_blockNumber"), 16)


def blocks_per_second(url: str, seconds: float) -> float:
    first, started = head_number(url), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    return (head_number(url) - first) / (time.monotonic() - started)


def signed_transfers(url: str, count: int) -> list[str]:
    """`count` transfers from the 10 senders, their nonces continuing from the chain's."""
    chain_id = int(rpc_call(url, "eth_chainId"), 16)
    price = int(rpc_call(url, "eth_gasPrice"), 16) * 2
    nonces = [int(r["result"], 16) for r in rpc_batch(url, [("eth_getTransactionCount", [s.address, "pending"])
                                                              for s in SENDERS])]
    raws = []
    for index in range(count):
        sender = index % len(SENDERS)
        tx = {"chainId": chain_id, "nonce": nonces[sender] + index // len(SENDERS), "to": SENDERS[sender - 1].address,
              "value": 1, "gas": 21_000, "gasPrice": price}
        raws.append("0x" + bytes(Account.sign_transaction(tx, SENDERS[sender].private_key).raw_transaction).hex())
    return raws


def send_paced(url: str, raws: list[str], rate: float) -> dict[str, float]:
    """Send `raws` at `rate` per second (each sender's in nonce order); tx hash -> monotonic send time."""
    sent: dict[str, float] = {}
    started = time.monotonic()
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with requests.Session() as session:
            for index in (i for i in range(len(raws)) if i % len(SENDERS) % SENDERS_THREADS == offset):
                delay = started + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing the load, not waiting for a condition
                at = time.monotonic()
                body = {"jsonrpc": "2.0", "id": index, "method": "eth_sendRawTransaction", "params": [raws[index]]}
                reply = session.post(url, json=body, timeout=30).json()
                if "result" in reply:
                    with lock:
                        sent[reply["result"].lower()] = at

    # each sender's transfers stay in one thread, in nonce order
    threads = [threading.Thread(target=worker, args=(offset,)) for offset in range(SENDERS_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


class AheadWatcher(threading.Thread):
    """The most the chain's head timestamp runs ahead of the wall clock, sampled every 50 ms."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True, name="ahead-watcher")
        self.url, self.stop, self.most = url, threading.Event(), float("-inf")

    def run(self) -> None:
        while not self.stop.wait(0.05):
            try:
                head = rpc_call(self.url, "eth_getBlockByNumber", ["latest", False], timeout=2)
            except (OSError, RuntimeError, ValueError):
                continue
            self.most = max(self.most, int(head["timestamp"], 16) - time.time())


def measure(url: str, seconds: float, rate: float) -> Figures:
    figures = Figures(idle_blocks_per_second=blocks_per_second(url, seconds))
    raws = signed_transfers(url, int(rate * seconds))
    with BlockWatcher(url, period=0.02) as watcher:
        first, started = head_number(url), time.monotonic()
        sent = send_paced(url, raws, rate)
        elapsed = time.monotonic() - started
        figures.load_blocks_per_second = (head_number(url) - first) / elapsed
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len({h for h, _ in watcher.seen} & set(sent)) < len(sent):
            time.sleep(0.05)  # polling with a deadline for the last transfers to be seen
    seen: dict[str, float] = {}
    for (tx_hash, _), at in watcher.seen.items():
        seen[tx_hash] = min(at, seen.get(tx_hash, at))
    figures.sent = len(sent)
    figures.latencies = [seen[h] - at for h, at in sent.items() if h in seen]
    figures.included_per_second = len(figures.latencies) / elapsed
    return figures


@contextmanager
def devnet_gateway(mode: str, block_time: float, work: Path) -> Iterator[str]:
    with running_devnet(fast_config(work, mode=mode, block_time=block_time)) as network:
        yield network.gateway_url


def print_figures(name: str, figures: Figures) -> None:
    print(f"  {name}")
    print(f"    idle                      {figures.idle_blocks_per_second:8.2f} blocks/s")
    print(f"    under load                {figures.load_blocks_per_second:8.2f} blocks/s, "
          f"{figures.included_per_second:8.1f} transfers/s included ({len(figures.latencies)} of {figures.sent})")
    if figures.latencies:
        print(f"    send -> in a block        p50 {percentile(figures.latencies, 0.5) * 1000:7.0f} ms, "
              f"p99 {percentile(figures.latencies, 0.99) * 1000:7.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--block-time", type=float, default=0.1, help="L2 (and Anvil) block time, seconds")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measuring window")
    parser.add_argument("--rate", type=float, default=200.0, help="transfers per second under load")
    parser.add_argument("--mode", default="single", help="the devnet's sequencing mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        with devnet_gateway(args.mode, args.block_time, Path(work) / "devnet") as gateway:
            ahead = AheadWatcher(gateway)
            ahead.start()
            devnet = measure(gateway, args.seconds, args.rate)
            ahead.stop.set()
            ahead.join(5)
            devnet.most_ahead = ahead.most
            devnet.safe_lag = head_number(gateway) - int(
                rpc_call(gateway, "eth_getBlockByNumber", ["safe", False])["number"], 16)
        with running_anvil(Path(work), "--block-time", f"{args.block_time:g}") as anvil:
            reference = measure(anvil, args.seconds, args.rate)
    print(f"Block time {args.block_time:g} s, {args.seconds:g} s windows, load {args.rate:g} transfers/s")
    print_figures(f"devnet, mode {args.mode} (through the gateway)", devnet)
    print_figures("Anvil --block-time (reference)", reference)
    print(f"  ratio devnet / Anvil, blocks/s under load  "
          f"{devnet.load_blocks_per_second / max(reference.load_blocks_per_second, 1e-9):6.2f}")
    print(f"  L2 head timestamp - wall clock, most ahead {devnet.most_ahead:+6.2f} s (goal: never ahead)")
    print(f"  safe head lag at the end                   {devnet.safe_lag:6d} blocks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
