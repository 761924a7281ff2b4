"""Shortened runs of the soak proofs in benchmarks/soak.py: the same scenarios and invariant checks,
in-process, with fewer clients, seconds and handoffs. The full runs are `benchmarks/soak.py load|handoffs`."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.soak import ScenarioResult, run_handoffs, run_load


def assert_passed(result: ScenarioResult) -> None:
    print(result.report())
    assert result.ok, "\n".join(f"{c.name}: {c.detail}" for c in result.failures()) + "\n" + "\n".join(result.notes)


@pytest.mark.slow
def test_load_with_a_leader_crash(tmp_path: Path) -> None:
    """10 clients for 15 s through the gateway, the leader SIGKILLed and restarted half-way: every
    accepted transaction lands exactly once, within 10 s of the end, and is derived from L1."""
    result = run_load(clients=10, seconds=15, state_dir=tmp_path)
    assert_passed(result)
    memory = {key: value for key, value in result.figures.items() if key.startswith("RSS MB")}
    assert {"anvil", "gateway", "sequencer-0", "verifier-0"} <= {key.split()[2].rstrip(":") for key in memory}
    assert all("?" not in value for value in memory.values()), memory  # every process was measured
    assert sum("restarted" in value for value in memory.values()) == 1, memory  # the SIGKILLed leader


@pytest.mark.slow
def test_six_handoffs_with_a_leader_crash(tmp_path: Path) -> None:
    """A steady client through 6 handoffs, one a SIGKILLed leader: nobody signs two blocks at one
    height, every accepted transaction lands once, and the gateway notifies every SequencerChanged."""
    assert_passed(run_handoffs(handoffs=6, state_dir=tmp_path, max_seconds=60))
