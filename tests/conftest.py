"""Shared fixtures: one real devnet (Anvil + contracts + sequencer + verifier) per test session.

Helpers (fast_config, wait_for, SubscriptionCollector, ...) live in toolkit.testing; this file
holds fixtures only.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.l1.artifacts import REPO_ROOT, find_foundry_tool
from toolkit.testing import fast_config


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    network = Devnet(fast_config(tmp_path_factory.mktemp("devnet")))
    network.up()
    try:
        yield network
    finally:
        network.down()


@pytest.fixture(scope="session")
def sequencer_w3(devnet: Devnet) -> Web3:
    return Web3(HTTPProvider(devnet.node_url("sequencer-0")))


@pytest.fixture(scope="session")
def verifier_w3(devnet: Devnet) -> Web3:
    return Web3(HTTPProvider(devnet.node_url("verifier-0")))


@pytest.fixture(scope="session")
def l1_w3(devnet: Devnet) -> Web3:
    return Web3(HTTPProvider(devnet.state["l1"]["rpc"]))


@pytest.fixture(scope="session")
def fixtures_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/fixtures compiled once by the pinned forge + solc-js: `out/` and `cache/` in the returned
    folder (forge runs given the same paths, such as forge script, reuse the build)."""
    out = tmp_path_factory.mktemp("counter")
    subprocess.run(
        [
            str(find_foundry_tool("forge")),
            "build",
            "--contracts",
            "tests/fixtures",
            "--out",
            str(out / "out"),
            "--cache-path",
            str(out / "cache"),
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.fixture(scope="session")
def counter_artifact(fixtures_build: Path) -> dict[str, Any]:
    """tests/fixtures/Counter.sol compiled by the pinned forge + solc-js."""
    built = json.loads((fixtures_build / "out" / "Counter.sol" / "Counter.json").read_text())
    return {"abi": built["abi"], "bytecode": built["bytecode"]["object"]}

