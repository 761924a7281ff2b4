"""The plugin's devnet settings: ini options, overridden by `devnet` markers that must agree.

Runs real pytest sessions (pytester) whose tests read the settings the session devnet would get;
no devnet is started.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

READ_SETTINGS = """
import json
from toolkit.testing.plugin import devnet_settings

def pytest_collection_finish(session):
    print("SETTINGS=" + json.dumps(devnet_settings(session.config, list(session.items))))
"""


def run(pytester: pytest.Pytester, ini: str, tests: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\n" + ini)
    pytester.makeconftest(READ_SETTINGS)
    pytester.makepyfile(tests)
    return pytester.runpytest_inprocess("--collect-only", "-q", "-s", "-p", "toolkit.testing.plugin")


def settings_of(result: pytest.RunResult) -> dict:
    import json

    line = next(line for line in result.outlines if line.startswith("SETTINGS="))
    return dict(json.loads(line.removeprefix("SETTINGS=")))


def test_markers_override_ini_options(pytester: pytest.Pytester) -> None:
    result = run(pytester, "devnet_mode = committee\ndevnet_chains = 901, 902\ndevnet_block_time = 2\n", """
import pytest

@pytest.mark.devnet(sequencers=4)
def test_a(): pass

def test_b(): pass
""")
    assert settings_of(result) == {"mode": "committee", "sequencers": 4, "chains": [901, 902], "block_time": 2.0}


def test_two_markers_asking_for_different_devnets_are_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run(pytester, "", """
import pytest

@pytest.mark.devnet(mode="pos")
def test_a(): pass

@pytest.mark.devnet(mode="committee")
def test_b(): pass
""")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*devnet(mode='committee') differs from 'pos'*a session has one devnet*"])


def run_attached(pytester: pytest.Pytester, state: dict, tests: str, *args: str) -> pytest.RunResult:
    """A session on an 'attached' devnet described by `state` (no process behind it: the tests below
    never reach a node)."""
    import json

    state_file = pytester.path / "state.json"
    state_file.write_text(json.dumps(state))
    pytester.makeini(f"[pytest]\ndevnet_state = {state_file}\n")
    pytester.makepyfile(tests)
    return pytester.runpytest_inprocess("-q", "-p", "toolkit.testing.plugin", *args)


ATTACHED = {"l1": {"rpc": "http://127.0.0.1:9"}, "accounts": [],
            "chains": [{"chain_id": 901, "rpc": "http://127.0.0.1:9", "gateway": {},
                        "nodes": [{"name": "verifier-0", "role": "verifier", "rpc": "http://127.0.0.1:9",
                                   "admin": "http://127.0.0.1:9/admin"}]}]}
USES_DEVNET = """
def test_a(devnet):
    assert devnet.state["mode"]

def test_b(devnet):
    assert devnet.state["mode"]
"""


@pytest.mark.parametrize(("state", "reason"), [
    ({**ATTACHED, "mode": "auction"}, "mode auction cannot snapshot and revert"),
    ({**ATTACHED, "mode": "pos", "chains": [{**ATTACHED["chains"][0], "nodes": [
        {**ATTACHED["chains"][0]["nodes"][0], "admin": None}]}]}, "serves no test controls"),
], ids=["a mode that cannot revert", "no test controls"])
def test_isolation_that_cannot_be_had_runs_without_it_and_warns_once(pytester: pytest.Pytester, state: dict,
                                                                     reason: str) -> None:
    result = run_attached(pytester, state, USES_DEVNET, "-W", "default")
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines([f"*devnet isolation is off for this run: *{reason}*"])


def test_a_snapshot_that_cannot_be_taken_fails_the_test_in_one_line(pytester: pytest.Pytester) -> None:
    result = run_attached(pytester, {**ATTACHED, "mode": "single"}, USES_DEVNET)  # nothing listens on port 9
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*the devnet could not be snapshotted before the test: *"])


def test_opting_out_runs_the_test_as_it_is(pytester: pytest.Pytester) -> None:
    result = run_attached(pytester, {**ATTACHED, "mode": "single"}, """
import pytest

@pytest.mark.devnet_shared_state
def test_a(devnet):
    assert devnet.state["mode"] == "single"
""")
    result.assert_outcomes(passed=1)
    assert run_attached(pytester, {**ATTACHED, "mode": "single"}, USES_DEVNET,
                        "-o", "devnet_isolation=false").ret == 0
