"""Figures for the pytest plugin and L1 reorg handling, each beside a reference measured in the same run.

1. Re-derivation after a depth-10 L1 reorg that moves every batch of those 10 L1 blocks (detect the
   fork, reset, derive the new branch: the blocks are reused, not executed again), in process with
   the real executor; reference: deriving the same L1 range the first time.
2. The devnet-wide snapshot + revert the plugin runs around each test (L1 and every node of a pos
   devnet with 3 validators; each round's test sends a transfer and waits for its receipt), median
   of N; reference: Anvil's own evm_snapshot + evm_revert (one block mined between).
3. With --devnet: time to a ready session devnet through the plugin (a pytest run of one test that
   asks for `devnet`); reference: a bare Anvil to its first answer.

    .venv/bin/python benchmarks/plugin.py [--blocks 96] [--snapshots 20] [--devnet]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devnet.network import rpc_call  # noqa: E402
from devnet.supervisor import ManagedProcess, free_port  # noqa: E402
from toolkit.derivation import Derivation  # noqa: E402
from toolkit.l1.artifacts import find_foundry_tool  # noqa: E402
from toolkit.testing import (  # noqa: E402
    CHAIN_ID,
    InMemoryL1,
    batch_data,
    build_block,
    fast_config,
    new_state,
    transfer,
)
from toolkit.testing.isolation import revert_snapshot, take_snapshot  # noqa: E402
from toolkit.testing.running import running_devnet  # noqa: E402

L1_BLOCKS_WITH_BATCHES = 12  # more than the reorg's depth


def catch_up(derivation: Derivation) -> float:
    async def run() -> None:
        while await derivation.step():
            pass

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started


def bench_rederivation(blocks: int) -> tuple[float, float, int]:
    """(first derivation seconds, re-derivation after the reorg seconds, L2 blocks re-derived)."""
    per_batch = max(1, blocks // L1_BLOCKS_WITH_BATCHES)
    l1 = InMemoryL1()
    leader = new_state()
    origin = l1.mine()
    for number in range(1, blocks + 1):
        build_block(leader, origin, [transfer((number - 1) % 3, (number - 1) // 3)])
        if number % per_batch == 0:
            l1.add_batch(batch_data(leader, number - per_batch + 1, number), number - per_batch + 1, number)
            l1.mine()  # the blocks keep an old origin, so their batches may move to any later L1 block
    derivation = Derivation(CHAIN_ID, new_state(), l1)
    first = catch_up(derivation)
    moved = tuple(p for p in l1.posted if p.l1_block > l1.head_number - 10)
    safe_before = derivation.state.safe_number
    l1.reorg(10, keep=moved)
    again = catch_up(derivation)
    assert derivation.state.safe_number == safe_before, "the moved batches must derive the same chain"
    return first, again, sum(p.last_l2_block - p.first_l2_block + 1 for p in moved)


def start_anvil(log_dir: Path) -> tuple[ManagedProcess, str, float]:
    port = free_port()
    process = ManagedProcess("anvil", [str(find_foundry_tool("anvil")), "--port", str(port)], log_dir / "anvil.log")
    started = time.perf_counter()
    process.start()
    url = f"http://127.0.0.1:{port}"
    process.wait_ready(lambda: rpc_call(url, "eth_chainId", timeout=1) is not None, 60)
    return process, url, time.perf_counter() - started


def bench_anvil_snapshot(url: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        snapshot = rpc_call(url, "evm_snapshot")
        rpc_call(url, "anvil_mine", ["0x1"])
        if not rpc_call(url, "evm_revert", [snapshot]):
            raise RuntimeError("evm_revert refused its own snapshot")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_devnet_snapshot(work: Path, runs: int, validators: int) -> tuple[float, float]:
    """(median snapshot seconds, median revert seconds) on a pos devnet, a transfer in between."""
    from web3 import HTTPProvider, Web3

    taking, reverting = [], []
    with running_devnet(fast_config(work / "pos", mode="pos", sequencers=validators)) as network:
        w3 = Web3(HTTPProvider(network.gateway_url))
        sender = network.state["accounts"][1]
        for _ in range(runs):
            snapshot = take_snapshot(network.state)
            taking.append(snapshot.seconds)
            tx = {"to": sender["address"], "value": 1, "gas": 21_000, "gasPrice": w3.eth.gas_price,
                  "chainId": w3.eth.chain_id, "nonce": w3.eth.get_transaction_count(sender["address"], "pending")}
            raw = w3.eth.account.sign_transaction(tx, sender["private_key"]).raw_transaction
            w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw), timeout=60)
            reverting.append(revert_snapshot(network.state, snapshot))
    return statistics.median(taking), statistics.median(reverting)


def bench_plugin_devnet(work: Path) -> float:
    (work / "test_ready.py").write_text("def test_ready(devnet):\n    assert devnet.state['ready']\n")
    (work / "pytest.ini").write_text("[pytest]\n")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(work)],
                            cwd=work, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-2000:] + result.stderr[-2000:])
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=96, help="L2 blocks before the reorg (at least 12)")
    parser.add_argument("--snapshots", type=int, default=20, help="snapshot+revert rounds (devnet and Anvil)")
    parser.add_argument("--validators", type=int, default=3, help="validators of the pos devnet snapshotted")
    parser.add_argument("--devnet", action="store_true", help="also time a session devnet through the plugin")
    args = parser.parse_args()
    first, again, moved = bench_rederivation(max(args.blocks, L1_BLOCKS_WITH_BATCHES))
    print("L1 reorg, depth 10, moving every batch of those blocks")
    print(f"  re-derivation after the reorg ({moved} L2 blocks): {again * 1000:8.1f} ms")
    print(f"  first derivation of the same L1 (reference):  {first * 1000:8.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        anvil, url, anvil_ready = start_anvil(Path(tmp))
        try:
            snapshot = bench_anvil_snapshot(url, args.snapshots)
        finally:
            anvil.stop()
        taking, reverting = bench_devnet_snapshot(Path(tmp), args.snapshots, args.validators)
        print("snapshot + revert per test")
        print(f"  devnet-wide (mode pos, {args.validators} validators, median of {args.snapshots}): "
              f"{(taking + reverting) * 1000:.1f} ms (snapshot {taking * 1000:.1f}, revert {reverting * 1000:.1f})")
        print(f"  Anvil evm_snapshot + evm_revert (reference, median of {args.snapshots}): {snapshot * 1000:.1f} ms")
        print(f"  ratio devnet / Anvil: {(taking + reverting) / snapshot:.0f}")
        if args.devnet:
            ready = bench_plugin_devnet(Path(tmp))
            print("time to a ready session devnet")
            print(f"  through the pytest plugin (one test run): {ready:.1f} s")
            print(f"  bare Anvil to its first answer (reference): {anvil_ready:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
