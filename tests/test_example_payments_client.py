"""The example project examples/payments-client passes, in its own pytest process, through the plugin.

It runs against this session's devnet (ROLLUP_DEVNET_STATE: the plugin attaches instead of starting
one) with plugin autoloading off, so the example's documented `pytest_plugins` line is what loads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devnet.network import Devnet
from toolkit.l1.artifacts import REPO_ROOT
from toolkit.testing import fast_config
from toolkit.testing.running import running_devnet

EXAMPLE = REPO_ROOT / "examples" / "payments-client"


def run_example(devnet: Devnet, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROLLUP_DEVNET_STATE": str(devnet.config.state_file), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=5", "-rs", *args],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def test_example_payments_client_passes_with_the_plugin(devnet: Devnet) -> None:
    result = run_example(devnet)
    # the handoff and crash tests need several sequencers: skipped here, saying why, run below
    assert "5 passed, 2 skipped" in result.stdout, result.stdout[-2000:]
    assert "mode single has one sequencer" in result.stdout, result.stdout[-2000:]
    # fixture isolation, in the other order too (the run above spends first, then expects the balance)
    isolation = "tests/test_isolation.py::test_a_test_that_"
    reversed_order = run_example(devnet, isolation + "expects_the_balance_it_started_with",
                                 isolation + "pays_most_of_a_balance_away")
    assert "2 passed" in reversed_order.stdout, reversed_order.stdout[-2000:]


@pytest.mark.slow
def test_example_handoff_and_crash_tests_pass_against_a_pos_devnet(tmp_path: Path) -> None:
    with running_devnet(fast_config(tmp_path, mode="pos", sequencers=3, epoch_length=60, liveness_timeout=4)) as network:
        result = run_example(network, "tests/test_sequencer_changes.py")
    assert "2 passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-2000:]
