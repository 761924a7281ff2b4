"""The benchmark scripts still run and print every figure, with the smallest arguments that reach each.

Only that they finish and label their figures: the numbers themselves are never asserted.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from devnet.network import Devnet
from toolkit.l1.artifacts import REPO_ROOT

pytestmark = pytest.mark.slow

RUN_LABELS = [
    "devnet up -> ready",
    "L2 execution, 10 transfers in one block",
    "py-evm (this devnet)",
    "Anvil (reference)",
    "ratio py-evm / Anvil",
    "L1 cost of posting them",
    "calldata per transfer",
    "L1 gas per transfer",
]
HANDOFF_LABELS = [
    "L1 gas of one batch (5 transfers)",
    "mode single, no attestations (reference)",
    "pos,  3 attestations",
    "pos,  7 attestations",
    "pos, 21 attestations",
    "handoff gap at epoch boundaries",
    "median",
    "worst",
    "one leader's block time",
    "failover after SIGKILL of the leader",
    "to the timeout event",
    "to the next leader's block",
    "liveness timeout (reference)",
]


def run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / script), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_figures(result: subprocess.CompletedProcess[str], labels: list[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    missing = [label for label in labels if label not in result.stdout]
    assert not missing, f"figures not printed: {missing}\n{result.stdout}"


RPC_LABELS = ["Read RPC, requests/s", "eth_call", "eth_estimateGas", "eth_getLogs (5 blocks)", "gateway",
              "Anvil (reference)", "node / Anvil"]


def test_rpc_prints_requests_per_second_beside_anvil(devnet: Devnet) -> None:
    # on the session's devnet (no devnet of its own): the smallest range and request count
    result = run_benchmark("rpc.py", "--blocks", "5", "--requests", "1", "--node", devnet.node_url("sequencer-0"),
                           "--gateway", devnet.gateway_url)
    assert_figures(result, RPC_LABELS)


def test_run_prints_startup_throughput_and_l1_cost() -> None:
    result = run_benchmark("run.py", "--transfers", "10", "--startups", "1")
    assert_figures(result, RUN_LABELS)


def test_handoffs_prints_attestation_gas_handoff_gaps_and_failover() -> None:
    # Two handoffs, not one: a change of builder across a block no node announced counts as a handoff
    # but yields no gap, and with no gap at all the script cannot print a median.
    result = run_benchmark(
        "handoffs.py", "--handoffs", "2", "--failovers", "1", "--batch-transfers", "5"
    )  # not --cpu-burner: it measures everything twice, and the suite's two workers are load enough
    assert_figures(result, HANDOFF_LABELS)


def test_plugin_prints_rederivation_and_snapshot_reference() -> None:
    result = run_benchmark("plugin.py", "--blocks", "12", "--snapshots", "2", "--validators", "1")
    assert_figures(result, [
        "L1 reorg, depth 10",
        "re-derivation after the reorg",
        "first derivation of the same L1 (reference)",
        "devnet-wide (mode pos, 1 validators", "Anvil evm_snapshot + evm_revert (reference", "ratio devnet / Anvil",
    ])


def test_shared_prints_gas_per_block_shared_and_per_chain() -> None:
    result = run_benchmark("shared.py", "--chains", "1,2", "--blocks", "1", "--transfers", "1")
    assert_figures(result, ["L1 gas per L2 block", "one batch per chain (reference)", "shared batch",
                            "L1 transactions per posting"])
