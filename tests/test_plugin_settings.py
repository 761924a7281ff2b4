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
