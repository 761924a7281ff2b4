"""`devnet scenario list|run` against the session devnet (the CLI in process, the devnet real)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from devnet.cli import main
from devnet.network import Devnet


def run(devnet: Devnet, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--state-dir", str(devnet.config.state_dir), "scenario", *args])
    return result.exit_code, result.output


def test_scenario_list_names_every_drill(devnet: Devnet) -> None:
    code, output = run(devnet, "list")
    assert code == 0
    assert all(name in output for name in ("reorg", "censor-and-force-include", "pause-batches", "handoff"))


def test_pause_batches_drill_prints_the_timeline_a_client_saw(devnet: Devnet) -> None:
    code, output = run(devnet, "run", "pause-batches", "--json")
    assert code == 0, output
    timeline = json.loads(output)["timeline"]
    assert [entry["event"] for entry in timeline] == [
        "batches paused; transfer unsafe", "2 L1 blocks later, no batch", "batches resumed; transfer safe"]
    held, later, resumed = timeline
    assert held["safe"] < held["block"] and later["safe"] < held["block"] <= resumed["safe"]


def test_unknown_drills_and_drills_the_mode_cannot_do_are_clear_errors(devnet: Devnet) -> None:
    code, output = run(devnet, "run", "nope")
    assert code != 0 and "no scenario 'nope'" in output and "pause-batches" in output
    code, output = run(devnet, "run", "handoff")
    assert code != 0 and "mode single has one sequencer" in output


def test_bundle_commands_on_a_mode_without_bundles_are_a_clear_error(devnet: Devnet) -> None:
    result = CliRunner().invoke(main, ["--state-dir", str(devnet.config.state_dir), "bundle", "send", "--tx", "0x00"])
    assert result.exit_code != 0 and "bundles belong to mode shared; this devnet runs mode single" in result.output
