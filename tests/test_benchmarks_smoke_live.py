"""The benchmarks that run live devnets through handoffs and load (a file of their own, so the suite's
two workers share the smokes): they still run and print every figure, with the smallest arguments.

Only that they finish and label their figures: the numbers themselves are never asserted.
"""

from __future__ import annotations

import pytest

from tests.test_benchmarks_smoke import assert_figures, run_benchmark

pytestmark = pytest.mark.slow


def test_shared_live_prints_handoff_gaps_bundle_latency_and_liveness_coupling() -> None:
    result = run_benchmark("shared_live.py", "--handoffs", "1", "--bundles", "2", "--outage", "2")
    assert_figures(result, ["handoff gap across all chains", "chain 901: handoffs", "chain 902: handoffs",
                            "one leader's block time (reference)", "bundle latency, send -> both receipts",
                            "inclusion bundle, 2 chains", "single transfer (reference)", "ratio bundle / single",
                            "liveness coupling: every validator SIGKILLed", "blocks during the outage",
                            "after the restart"])


def test_auction_prints_gas_of_each_step_and_the_handoff_gap() -> None:
    result = run_benchmark("auction.py", "--bidders", "3", "--handoffs", "2")  # two: see the handoffs smoke
    assert_figures(result, ["L1 gas of the sequencing auction", "3 bidders", "commitBid", "revealBid", "settle",
                            "per bid", "claim", "plain transfer (reference)",
                            "handoff gap at auction boundaries", "median", "worst", "one leader's block time"])


def test_block_rate_prints_blocks_per_second_latency_and_the_wall_clock_beside_anvil() -> None:
    result = run_benchmark("block_rate.py", "--seconds", "1", "--rate", "20")
    assert_figures(result, ["Block time 0.1 s", "devnet, mode single (through the gateway)", "idle", "under load",
                            "transfers/s included", "send -> in a block", "Anvil --block-time (reference)",
                            "ratio devnet / Anvil, blocks/s under load", "L2 head timestamp - wall clock",
                            "safe head lag at the end"])
