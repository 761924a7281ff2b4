"""Shared fixtures: one real devnet (Anvil + contracts + sequencer + verifier) per test session."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from devnet.config import (
    BatcherSettings,
    DevnetConfig,
    L1Settings,
    L2Settings,
    NodeSettings,
    SequencerSettings,
)
from devnet.network import Devnet
from toolkit.l1.artifacts import REPO_ROOT, find_foundry_tool
from toolkit.rpc.ws_subscription import notifications


def fast_config(
    state_dir: Path, mode: str = "single", sequencers: int = 3, epoch_length: int = 32, liveness_timeout: int = 8,
    **l2: Any,
) -> DevnetConfig:
    """A devnet on free ports with short batch intervals, so tests see L1 effects quickly."""
    return DevnetConfig(
        state_dir=state_dir,
        mode=mode,
        sequencers=SequencerSettings(count=sequencers, liveness_timeout=liveness_timeout),
        l1=L1Settings(port=0, block_time=1.0, epoch_length=epoch_length),
        l2=replace(L2Settings(), **l2),
        nodes=NodeSettings(gateway_port=0, sequencer_port=0, verifier_port=0),
        batcher=BatcherSettings(max_blocks=4, max_seconds=1.5),
    ).validate()


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    network = Devnet(fast_config(tmp_path_factory.mktemp("devnet")))
    network.up()
    try:
        yield network
    finally:
        network.down()


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; return its value or fail with `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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
def counter_artifact(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """tests/fixtures/Counter.sol compiled by the pinned forge + solc-js."""
    out = tmp_path_factory.mktemp("counter")
    subprocess.run(
        [str(find_foundry_tool("forge")), "build", "--contracts", "tests/fixtures", "--out", str(out / "out"),
         "--cache-path", str(out / "cache")],
        cwd=REPO_ROOT, check=True, capture_output=True, timeout=300,
    )
    built = json.loads((out / "out" / "Counter.sol" / "Counter.json").read_text())
    return {"abi": built["abi"], "bytecode": built["bytecode"]["object"]}


def safe_number(w3: Web3) -> int:
    return int(w3.provider.make_request("rollup_syncStatus", [])["result"]["safeL2"]["number"])


class SubscriptionCollector:
    """Collects the notifications of one WebSocket subscription (`kind`) in a thread."""

    def __init__(self, ws_url: str, kind: str) -> None:
        self.ws_url, self.kind = ws_url, kind
        self.notices: list[dict[str, Any]] = []
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        async for notice in notifications(self.ws_url, self.kind, self._stop, self.subscribed.set):
            self.notices.append(notice)

    def __enter__(self) -> SubscriptionCollector:
        self._thread.start()
        assert self.subscribed.wait(10), f"could not subscribe to {self.kind} at {self.ws_url}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def raw_receipt(w3: Web3, tx_hash: str) -> dict[str, Any] | None:
    """The receipt as the node sends it (hex fields), or None while the transaction is not in a block."""
    return w3.provider.make_request("eth_getTransactionReceipt", [tx_hash]).get("result")
