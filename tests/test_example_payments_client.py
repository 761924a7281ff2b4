"""The example project examples/payments-client passes, in its own pytest process, through the plugin.

It runs against this session's devnet (ROLLUP_DEVNET_STATE: the plugin attaches instead of starting
one) with plugin autoloading off, so the example's documented `pytest_plugins` line is what loads it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from devnet.network import Devnet
from toolkit.l1.artifacts import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "payments-client"


def test_example_payments_client_passes_with_the_plugin(devnet: Devnet) -> None:
    env = {**os.environ, "ROLLUP_DEVNET_STATE": str(devnet.config.state_file), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=5"],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout, result.stdout[-2000:]
