"""The pytest plugin: a devnet for your own client's tests, plus the scenario API.

Installed with the package, pytest loads it through the `pytest11` entry point `rollup_devnet`.
With PYTEST_DISABLE_PLUGIN_AUTOLOAD set, load it yourself: `pytest_plugins = ["toolkit.testing.plugin"]`
in your top-level conftest.py (or `pytest -p toolkit.testing.plugin`).

Fixtures:
    devnet    (session) the devnet: started once per session from the `devnet` marker or the ini
              options below, or the running devnet whose state file `devnet_state` /
              $ROLLUP_DEVNET_STATE names (then nothing is started or stopped)
    l1        web3.Web3 on the L1 (Anvil)
    l2        web3.Web3 on the chain's gateway (the one URL clients use)
    accounts  the prefunded dev accounts (eth_account LocalAccount), the same on L1 and L2
    scenario  toolkit.testing.scenario.Scenario on the devnet

Isolation: every test that uses the devnet (through any of these fixtures) runs between a
devnet-wide snapshot and a revert to it (toolkit/testing/isolation.py): L1 and every node go back,
so what one test sends, forces, censors or hands off is gone for the next. Opt out per test with
`@pytest.mark.devnet_shared_state` (needed by tests that restart a node or reorg L1 below the
snapshot, which a revert cannot undo), or for the run with the ini option `devnet_isolation = false`.
Modes whose nodes cannot revert (auction, shared) and devnets without test controls run without it,
with one warning.

    @pytest.mark.devnet(mode="committee", sequencers=3, chains=[901], block_time=1)
    ini: devnet_mode, devnet_sequencers, devnet_chains (comma separated), devnet_block_time, devnet_state,
         devnet_load (a directory `devnet save` wrote: the session starts that devnet, with the contracts
         and state your set-up left there, instead of a new one; its settings are the save's)

Every test module that marks `devnet` must ask for the same settings: the session has one devnet.
A project that defines its own `devnet` fixture (as this repository's tests/conftest.py does)
overrides this one; `l1`, `l2`, `accounts` and `scenario` then use that one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from toolkit.testing.scenario import AttachedDevnet, Scenario, ScenarioError

STATE_ENV = "ROLLUP_DEVNET_STATE"
MARKER = "devnet"
SHARED_STATE_MARKER = "devnet_shared_state"
SETTINGS = ("mode", "sequencers", "chains", "block_time")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("devnet_mode", "sequencing mode of the session devnet (single, committee, pos)", default="single")
    parser.addini("devnet_sequencers", "sequencer nodes (modes other than single)", default="3")
    parser.addini("devnet_chains", "L2 chain ids, comma separated (default: one chain, 901)", default="")
    parser.addini("devnet_block_time", "L2 block time in seconds", default="1")
    parser.addini("devnet_state", "state file of a running devnet to use instead of starting one", default="")
    parser.addini("devnet_load", "a saved devnet (`devnet save DIR`) to start instead of a new one", default="")
    parser.addini("devnet_isolation", "revert the devnet to a snapshot after each test that uses it", type="bool",
                  default=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "devnet(mode=..., sequencers=..., chains=[...], block_time=...): the session devnet's settings"
    )
    config.addinivalue_line(
        "markers", f"{SHARED_STATE_MARKER}: no snapshot/revert around this test (it restarts nodes or reorgs L1)"
    )


def devnet_settings(config: pytest.Config, items: list[pytest.Item]) -> dict[str, Any]:
    """The ini options, overridden by the `devnet` markers of the collected tests (which must agree)."""
    chains = str(config.getini("devnet_chains")).strip()
    settings: dict[str, Any] = {
        "mode": str(config.getini("devnet_mode")),
        "sequencers": int(config.getini("devnet_sequencers")),
        "chains": [int(c) for c in chains.split(",") if c.strip()],
        "block_time": float(config.getini("devnet_block_time")),
    }
    settings.update(marker_settings(items))
    return settings


def marker_settings(items: list[pytest.Item]) -> dict[str, Any]:
    """What the collected tests' `devnet` markers ask for (they must agree)."""
    chosen: dict[str, Any] = {}
    for item in items:
        for marker in item.iter_markers(MARKER):
            unknown = set(marker.kwargs) - set(SETTINGS)
            if unknown or marker.args:
                raise pytest.UsageError(f"{item.nodeid}: devnet marker takes only {', '.join(SETTINGS)} as keywords")
            for key, value in marker.kwargs.items():
                if key in chosen and chosen[key] != value:
                    raise pytest.UsageError(
                        f"{item.nodeid}: devnet({key}={value!r}) differs from {chosen[key]!r} asked elsewhere; "
                        "a session has one devnet"
                    )
                chosen[key] = value
    return chosen


@pytest.fixture(scope="session")
def devnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    state_file = os.environ.get(STATE_ENV) or str(request.config.getini("devnet_state"))
    if state_file:
        yield AttachedDevnet(Path(state_file))
        return
    from devnet.network import Devnet  # the CLI's package: only needed when we start the devnet
    from devnet.saved import SavedDevnet, SaveError
    from toolkit.testing.config import fast_config

    state_dir = tmp_path_factory.mktemp("devnet")
    load = str(request.config.getini("devnet_load")).strip()
    if load:
        try:
            saved = SavedDevnet.read(Path(load))
        except SaveError as exc:
            raise pytest.UsageError(f"devnet_load: {exc}") from exc
        config = saved.config(fast_config(state_dir))
        loaded = {"mode": config.mode, "sequencers": config.sequencers.count,
                  "chains": [c.chain_id for c in config.chain_list], "block_time": config.l2.block_time}
        for key, value in marker_settings(list(request.session.items)).items():
            if loaded[key] != value and not (key == "chains" and not value):
                raise pytest.UsageError(f"devnet({key}={value!r}) differs from the saved devnet {load} "
                                        f"({key}={loaded[key]!r}): devnet_load takes the save's settings")
        network = Devnet(config, saved=saved)
    else:
        settings = devnet_settings(request.config, list(request.session.items))
        network = Devnet(fast_config(
            state_dir, mode=settings["mode"], sequencers=settings["sequencers"],
            chains=tuple(settings["chains"]), block_time=settings["block_time"],
        ))
    network.up()
    try:
        yield network
    finally:
        network.down()


@pytest.fixture(scope="session")
def l1(devnet: Any) -> Web3:
    return Web3(HTTPProvider(devnet.state["l1"]["rpc"]))


@pytest.fixture(scope="session")
def l2(devnet: Any) -> Web3:
    return Web3(HTTPProvider(devnet.state["chains"][0]["rpc"]))


@pytest.fixture(scope="session")
def accounts(devnet: Any) -> list[LocalAccount]:
    return [Account.from_key(entry["private_key"]) for entry in devnet.state["accounts"]]


@pytest.fixture
def scenario(devnet: Any) -> Scenario:
    return Scenario(devnet)


@pytest.fixture(autouse=True)
def _devnet_isolation(request: pytest.FixtureRequest) -> Iterator[None]:
    """A devnet-wide snapshot before each test that uses the devnet, and a revert to it after."""
    if ("devnet" not in request.fixturenames or request.node.get_closest_marker(SHARED_STATE_MARKER)
            or not request.config.getini("devnet_isolation")):
        yield
        return
    from toolkit.testing.isolation import SnapshotError, endpoints, revert_snapshot, take_snapshot

    devnet = request.getfixturevalue("devnet")
    try:
        endpoints(devnet.state)
    except SnapshotError as exc:
        _warn_once(request.config, f"devnet isolation is off for this run: {exc}")
        yield
        return
    try:
        snapshot = take_snapshot(devnet.state)
    except (ScenarioError, OSError) as exc:  # a node down (restarted by a test before?), L1 gone
        pytest.fail(f"the devnet could not be snapshotted before the test: {exc}", pytrace=False)
    yield
    try:
        revert_snapshot(devnet.state, snapshot)
    except (ScenarioError, OSError) as exc:
        pytest.fail(f"the devnet could not be reverted after the test: {exc}. A test that restarts a node or "
                    f"reorgs L1 below the snapshot needs @pytest.mark.{SHARED_STATE_MARKER}", pytrace=False)


def _warn_once(config: pytest.Config, message: str) -> None:
    if not getattr(config, "_devnet_isolation_warned", False):
        config._devnet_isolation_warned = True  # type: ignore[attr-defined]
        warnings.warn(pytest.PytestWarning(message), stacklevel=2)
