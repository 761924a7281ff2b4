"""Mode shared, live: what sharing one sequencer set costs and gives, each beside a same-run reference.

    .venv/bin/python benchmarks/shared_live.py [--handoffs 6] [--bundles 10] [--outage 10]

One devnet in mode shared (chains 901 and 902, three validators, epochs long enough that only the
handoffs this script causes happen; it mines L1 to the next epoch).

1. Handoff gap across all chains: for each handoff, per chain, the wall time between the last block
   of the old leader and the first of the new one (first `newHeads` arrival at any sequencer node),
   and how far apart the two chains' first new-leader blocks arrived. Reference: the gap between
   consecutive blocks of one leader on the same chain (the L2 block time).
2. Bundle latency: cross-chain `inclusion` bundles (one transfer on each chain) from
   `rollup_sendBundle` to both receipts on the gateways. Reference: a single transfer on one chain,
   send to receipt, the same way.
3. Liveness coupling: every validator SIGKILLed at once; per chain, the blocks made during the outage
   and, once they are restarted, the time to that chain's first new block. The chains share the
   outage: there is nobody else to sequence either of them.

Nothing here asserts: these are numbers to watch.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.handoffs import HeadWatcher  # noqa: E402
from devnet.network import Devnet, rpc_call  # noqa: E402
from toolkit.accounts import dev_accounts  # noqa: E402
from toolkit.testing import fast_config  # noqa: E402
from toolkit.testing.scenario import Scenario  # noqa: E402

CHAINS = (901, 902)
EPOCH_LENGTH = 40  # L1 blocks: longer than any measurement, so only forced handoffs happen
ACCOUNTS = dev_accounts(10)
BUNDLER, SINGLE = ACCOUNTS[6], ACCOUNTS[7]
POLL = 0.05


def transfer(chain_id: int, account: Any, nonce: int) -> str:
    tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "to": ACCOUNTS[8].address, "value": 1, "gas": 21_000,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
    return "0x" + bytes(Account.sign_transaction(tx, account.private_key).raw_transaction).hex()


def receipt(url: str, tx_hash: str) -> dict[str, Any] | None:
    return rpc_call(url, "eth_getTransactionReceipt", [tx_hash])


def poll(condition: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while (value := condition()) is None or value is False:
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {seconds:g} s waiting for {what}")
        time.sleep(POLL)
    return value


def watchers(network: Devnet) -> dict[int, HeadWatcher]:
    return {chain: HeadWatcher({name: network.node_url(name, chain).replace("http://", "ws://")
                                for name in network.sequencer_names}) for chain in CHAINS}


# ----- 1. handoff gaps -----
def signed_arrivals(network: Devnet, watcher: HeadWatcher, chain: int, first: int) -> list[tuple[int, str, float]]:
    """(number, signer, first arrival) of the chain's blocks from `first` on: the signer from the block's
    signature (who built it), the time from the earliest `newHeads` at any sequencer node."""
    url = network.node_url("verifier-0", chain)
    last = int(rpc_call(url, "eth_blockNumber"), 16)
    seen = watcher.snapshot()
    arrivals = []
    for number in range(first, last + 1):
        signature = rpc_call(url, "rollup_getBlockSignature", [hex(number)])
        if signature is not None and signature["blockHash"] in seen:
            arrivals.append((number, signature["signer"].lower(), seen[signature["blockHash"]].seen_at))
    return arrivals


def measure_handoffs(network: Devnet, count: int) -> dict[str, Any]:
    scenario = Scenario(network, CHAINS[0])
    readers = {chain: Web3(HTTPProvider(network.gateway_urls[chain])) for chain in CHAINS}
    watching = watchers(network)
    with contextlib.ExitStack() as stack:
        for watcher in watching.values():
            stack.enter_context(watcher)
        first = {chain: readers[chain].eth.block_number for chain in CHAINS}  # the old leader's last block too
        for _ in range(count):
            leader = scenario.handoff()["next"].lower()
            for chain in CHAINS:  # two blocks of the new leader on each chain: its first, and one to compare
                poll(lambda chain=chain, leader=leader: sum(
                    signer == leader for _, signer, _ in signed_arrivals(
                        network, watching[chain], chain, max(readers[chain].eth.block_number - 4, 0))) >= 2,
                     60, f"two blocks of the new leader on {chain}")
        arrivals = {chain: signed_arrivals(network, watching[chain], chain, first[chain]) for chain in CHAINS}
    per_chain: dict[int, tuple[list[float], list[float]]] = {}
    changes: dict[int, list[tuple[str, float]]] = {}
    for chain, seen in arrivals.items():
        pairs = [(a, b) for a, b in zip(seen, seen[1:], strict=False) if b[0] == a[0] + 1]
        per_chain[chain] = ([b[2] - a[2] for a, b in pairs if a[1] != b[1]],
                            [b[2] - a[2] for a, b in pairs if a[1] == b[1]])
        changes[chain] = [(b[1], b[2]) for a, b in zip(seen, seen[1:], strict=False) if a[1] != b[1]]
    one, other = changes[CHAINS[0]], changes[CHAINS[1]]
    same_sequence = [who for who, _ in one] == [who for who, _ in other]
    apart = [abs(x[1] - y[1]) for x, y in zip(one, other, strict=True)] if same_sequence else []
    return {"per_chain": per_chain, "apart": apart, "same_sequence": same_sequence}


# ----- 2. bundle latency -----
def measure_bundles(network: Devnet, count: int) -> tuple[list[float], list[float]]:
    gateways = network.gateway_urls
    bundles, singles = [], []
    nonces = {chain: int(rpc_call(gateways[chain], "eth_getTransactionCount", [BUNDLER.address, "pending"]), 16)
              for chain in CHAINS}
    single_nonce = int(rpc_call(gateways[CHAINS[0]], "eth_getTransactionCount", [SINGLE.address, "pending"]), 16)
    for _ in range(count):
        legs = [transfer(chain, BUNDLER, nonces[chain]) for chain in CHAINS]
        sent = time.monotonic()
        reply = Web3(HTTPProvider(gateways[CHAINS[0]])).provider.make_request(
            "rollup_sendBundle", [{"txs": legs, "atomicity": "inclusion"}])
        if "error" in reply:
            raise RuntimeError(f"bundle refused: {reply['error']}")
        node, bundle_id = network.node_url(reply["result"]["node"], CHAINS[0]), reply["result"]["bundleId"]
        record = poll(lambda node=node, bundle_id=bundle_id: (r := rpc_call(node, "rollup_getBundle", [bundle_id]))
                      and r["status"] != "pending" and r, 60, "the bundle to settle")
        if record["status"] != "included":
            raise RuntimeError(f"bundle not included: {record}")
        for leg in record["legs"]:
            poll(lambda leg=leg: receipt(gateways[leg["chainId"]], leg["txHash"]), 60, "a bundle leg's receipt")
        bundles.append(time.monotonic() - sent)
        for chain in CHAINS:
            nonces[chain] += 1
        raw = transfer(CHAINS[0], SINGLE, single_nonce)
        sent = time.monotonic()
        tx_hash = rpc_call(gateways[CHAINS[0]], "eth_sendRawTransaction", [raw])
        poll(lambda tx_hash=tx_hash: receipt(gateways[CHAINS[0]], tx_hash), 60, "the single transfer's receipt")
        singles.append(time.monotonic() - sent)
        single_nonce += 1
    return bundles, singles


# ----- 3. liveness coupling -----
def measure_outage(network: Devnet, seconds: float) -> dict[int, tuple[int, float]]:
    gateways = network.gateway_urls

    def head(chain: int) -> int:
        return int(rpc_call(network.node_url("verifier-0", chain), "rollup_syncStatus")["unsafeL2"]["number"])

    for name in network.sequencer_names:
        network.processes[name].kill()
    before = {chain: head(chain) for chain in CHAINS}
    time.sleep(seconds)  # the observation window itself: what the chains do with nobody to sequence them
    during = {chain: head(chain) - before[chain] for chain in CHAINS}
    restarted = time.monotonic()
    for name in network.sequencer_names:
        network.start_node(name)
    resumed: dict[int, float] = {}
    while len(resumed) < len(CHAINS):
        for chain in CHAINS:
            if chain not in resumed and int(rpc_call(gateways[chain], "eth_blockNumber"), 16) > before[chain] + during[chain]:
                resumed[chain] = time.monotonic() - restarted
        if time.monotonic() - restarted > 120:
            raise RuntimeError(f"chains did not resume within 120 s: {resumed}")
        time.sleep(POLL)
    for name in network.sequencer_names:
        network.wait_node_ready(name)
    return {chain: (during[chain], resumed[chain]) for chain in CHAINS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handoffs", type=int, default=6)
    parser.add_argument("--bundles", type=int, default=10)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds with every validator down")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state_dir:
        config = fast_config(Path(state_dir), mode="shared", sequencers=3, epoch_length=EPOCH_LENGTH,
                             liveness_timeout=EPOCH_LENGTH, chains=CHAINS)
        network = Devnet(config)
        network.up()
        try:
            handoffs = measure_handoffs(network, args.handoffs)
            bundles, singles = measure_bundles(network, args.bundles)
            outage = measure_outage(network, args.outage)
        finally:
            network.down()

    print(f"handoff gap across all chains (mode shared, chains {CHAINS[0]} and {CHAINS[1]}, 3 validators)")
    for chain, (gaps, steady) in handoffs["per_chain"].items():
        block_time = statistics.median(steady) if steady else float("nan")
        worst = max(gaps) if gaps else float("nan")
        median = statistics.median(gaps) if gaps else float("nan")
        print(f"  chain {chain}: handoffs {len(gaps)}, gap median {median:5.2f} s, worst {worst:5.2f} s; "
              f"one leader's block time (reference) {block_time:5.2f} s; ratio {median / block_time:.2f}")
    apart = handoffs["apart"]
    if apart:
        print(f"  first blocks of the new leader, chain to chain: median {statistics.median(apart):.2f} s apart, "
              f"worst {max(apart):.2f} s")
    else:
        print("  first blocks of the new leader, chain to chain: the chains changed leaders in different orders")
    print(f"bundle latency, send -> both receipts (n={len(bundles)})")
    print(f"  inclusion bundle, 2 chains     median {statistics.median(bundles):5.2f} s, worst {max(bundles):5.2f} s")
    print(f"  single transfer (reference)    median {statistics.median(singles):5.2f} s, worst {max(singles):5.2f} s")
    print(f"  ratio bundle / single          {statistics.median(bundles) / statistics.median(singles):.2f}")
    print(f"liveness coupling: every validator SIGKILLed for {args.outage:g} s")
    for chain, (made, resume) in outage.items():
        print(f"  chain {chain}: blocks during the outage {made}, first block {resume:5.2f} s after the restart")


if __name__ == "__main__":
    main()
