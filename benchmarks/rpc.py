"""Read-RPC throughput of the L2, each figure beside Anvil serving the same requests in the same run.

    .venv/bin/python benchmarks/rpc.py [--blocks 1000] [--requests 200] [--block-time 0.02]
                                       [--node URL --gateway URL]   # a running devnet instead

Requests per second, one client sending the next request when the last is answered, for
eth_call (Multicall3.getEthBalance), eth_estimateGas (the same call) and eth_getLogs over the last
`--blocks` blocks (a few of which hold logs): against a sequencer node, through the gateway, and
against Anvil holding the same contract and the same number of blocks and logs.
Nothing here asserts: these are numbers to watch, not tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devnet.network import Devnet  # noqa: E402
from toolkit.accounts import dev_accounts  # noqa: E402
from toolkit.l2.predeploys import MULTICALL3, predeploys  # noqa: E402
from toolkit.testing import fast_config, wait_for  # noqa: E402
from toolkit.testing.anvil import running_anvil  # noqa: E402

ACCOUNT = dev_accounts(1)[0].address
EMITS_A_LOG = "0x60006000a0"  # init code: LOG0, deploys nothing
LOG_TRANSACTIONS = 5
GET_ETH_BALANCE = "0x4d2301cc" + ACCOUNT[2:].lower().rjust(64, "0")


def call(session: requests.Session, url: str, method: str, params: list[Any]) -> Any:
    reply = session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=60).json()
    if "error" in reply:
        raise RuntimeError(f"{method} at {url}: {reply['error']}")
    return reply["result"]


def emit_logs(session: requests.Session, url: str) -> None:
    """A few transactions with a log each, sent by the node's dev account (both serve eth_sendTransaction)."""
    hashes = [call(session, url, "eth_sendTransaction", [{"from": ACCOUNT, "data": EMITS_A_LOG, "gas": "0x186a0"}])
              for _ in range(LOG_TRANSACTIONS)]
    for tx_hash in hashes:
        wait_for(lambda h=tx_hash: call(session, url, "eth_getTransactionReceipt", [h]), timeout=120,
                 what="a log transaction's receipt")


def requests_per_second(url: str, method: str, params: Callable[[], list[Any]], count: int) -> float:
    with requests.Session() as session:
        call(session, url, method, params())  # warm up (connection, caches)
        started = time.perf_counter()
        for _ in range(count):
            call(session, url, method, params())
        return count / (time.perf_counter() - started)


def workload(blocks: int, head: Callable[[], int]) -> dict[str, tuple[str, Callable[[], list[Any]]]]:
    query = {"from": ACCOUNT, "to": MULTICALL3, "data": GET_ETH_BALANCE}

    def log_range() -> list[Any]:
        last = head()
        return [{"fromBlock": hex(max(0, last - blocks + 1)), "toBlock": hex(last)}]

    return {
        "eth_call": ("eth_call", lambda: [query, "latest"]),
        "eth_estimateGas": ("eth_estimateGas", lambda: [query, "latest"]),
        f"eth_getLogs ({blocks:,} blocks)": ("eth_getLogs", log_range),
    }


def measure(url: str, blocks: int, count: int) -> dict[str, float]:
    with requests.Session() as session:
        number = int(call(session, url, "eth_blockNumber", []), 16)
    return {label: requests_per_second(url, method, params, count)
            for label, (method, params) in workload(blocks, lambda: number).items()}


def l2_figures_at(node: str, gateway: str, blocks: int, count: int, max_wait: float) -> tuple[
        int, dict[str, float], dict[str, float]]:
    """Figures against a node and its gateway, once the chain has `blocks` blocks (or after
    `max_wait` seconds: then the range is what the chain has, and the label says so)."""
    with requests.Session() as session:
        def head() -> int:
            return int(call(session, node, "eth_blockNumber", []), 16)

        deadline = time.monotonic() + max_wait
        wait_for(lambda: head() >= blocks or time.monotonic() >= deadline, timeout=max_wait + 60,
                 what=f"{blocks} L2 blocks")
        emit_logs(session, node)  # in the newest blocks, inside the queried range
        blocks = min(blocks, head())
    return blocks, measure(node, blocks, count), measure(gateway, blocks, count)


def l2_figures(blocks: int, count: int, block_time: float, max_wait: float) -> tuple[
        int, dict[str, float], dict[str, float]]:
    with tempfile.TemporaryDirectory() as state_dir:
        network = Devnet(fast_config(Path(state_dir), block_time=block_time))
        network.up()
        try:
            return l2_figures_at(network.node_url("sequencer-0"), network.gateway_url, blocks, count, max_wait)
        finally:
            network.down()


def anvil_figures(blocks: int, count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch, running_anvil(Path(scratch), "--hardfork", "prague") as url:
        with requests.Session() as session:
            for account in predeploys():
                call(session, url, "anvil_setCode", [account.address, account.code])
            call(session, url, "anvil_mine", [hex(blocks)])
            emit_logs(session, url)
        return measure(url, blocks, count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=1000, help="eth_getLogs range, and blocks on each chain")
    parser.add_argument("--requests", type=int, default=200, help="requests per figure")
    parser.add_argument("--block-time", type=float, default=0.02, help="L2 block time while the chain grows")
    parser.add_argument("--max-wait", type=float, default=1800.0,
                        help="seconds to let the L2 grow to --blocks; past that, the range is what it has")
    parser.add_argument("--node", help="use this running devnet's node (with --gateway) instead of starting one")
    parser.add_argument("--gateway", help="the running devnet's gateway URL")
    args = parser.parse_args()
    if args.node and args.gateway:
        blocks, node, gateway = l2_figures_at(args.node, args.gateway, args.blocks, args.requests, args.max_wait)
    else:
        blocks, node, gateway = l2_figures(args.blocks, args.requests, args.block_time, args.max_wait)
    anvil = anvil_figures(blocks, args.requests)
    print(f"Read RPC, requests/s ({args.requests} sequential requests each; higher is better)")
    print(f"  {'':32s}{'node':>10s}{'gateway':>10s}{'Anvil (reference)':>20s}{'node / Anvil':>14s}")
    for label in node:
        print(f"  {label:32s}{node[label]:10.1f}{gateway[label]:10.1f}{anvil[label]:20.1f}"
              f"{node[label] / anvil[label]:14.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
