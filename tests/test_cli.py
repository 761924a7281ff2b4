"""The `devnet` command as a user runs it: up/status/logs/down, Ctrl-C, bad config, busy ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devnet.supervisor import pid_alive
from toolkit.accounts import dev_accounts
from toolkit.testing import wait_for

VICTIM = dev_accounts(10)[7]
FREE_PORTS = ["--l1-port", "0", "--gateway-port", "0", "--sequencer-port", "0", "--verifier-port", "0"]


def devnet(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devnet.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def all_pids(state: dict) -> list[int]:
    return (
        [state["l1"]["pid"]]
        + [n["pid"] for c in state["chains"] for n in c["nodes"]]
        + [c["gateway"]["pid"] for c in state["chains"]]
    )


@pytest.mark.slow
def test_detach_status_logs_down(tmp_path: Path) -> None:
    up = devnet("--state-dir", str(tmp_path), "up", "--detach", *FREE_PORTS)
    assert up.returncode == 0, up.stderr + up.stdout
    assert "devnet is up" in up.stdout and "L1 RPC" in up.stdout
    try:
        state = json.loads((tmp_path / "state.json").read_text())
        assert state["ready"] and state["contracts"]["Inbox"].startswith("0x")
        assert all(pid_alive(pid) for pid in all_pids(state))
        again = devnet("--state-dir", str(tmp_path), "up", "--detach", *FREE_PORTS)
        assert again.returncode != 0 and "already up" in again.stderr

        def batches_posted() -> bool:
            report = json.loads(devnet("--state-dir", str(tmp_path), "status", "--json").stdout)
            nodes = report["chains"][0]["nodes"]
            return (
                report["l1"]["healthy"] and all(n["healthy"] for n in nodes) and nodes[0]["batches_posted"] >= 1
            )

        wait_for(batches_posted, timeout=90, what="a batch in `devnet status --json`")
        # Censor an account, then force its transfer in through L1 from the command line.
        censor = devnet("--state-dir", str(tmp_path), "sequencer", "censor", "--address", VICTIM.address)
        assert censor.returncode == 0 and VICTIM.address in censor.stdout, censor.stderr
        forced = devnet(
            "--state-dir",
            str(tmp_path),
            "force-include",
            "--chain",
            "901",
            "--from-key",
            VICTIM.private_key,
            "--to",
            "0x000000000000000000000000000000000000dEaD",
            "--value",
            "12345",
            "--wait",
        )
        assert forced.returncode == 0, forced.stderr + forced.stdout
        assert (
            "queued forced entry 0" in forced.stdout
            and "safe:" in forced.stdout
            and '"status": "0x1"' in forced.stdout
        )
        refused = devnet("--state-dir", str(tmp_path), "force-include", "--raw-tx", "0x")
        assert refused.returncode != 0 and "EmptyTransaction" in refused.stderr
        assert devnet("--state-dir", str(tmp_path), "sequencer", "censor", "--off").returncode == 0
        table = devnet("--state-dir", str(tmp_path), "status")
        assert table.returncode == 0 and "sequencer-0" in table.stdout and "verifier-0" in table.stdout
        logs = devnet("--state-dir", str(tmp_path), "logs", "sequencer-0")
        assert "posted batch" in logs.stdout
        # The supervisor SIGKILLed: its children die with it, and every command says so in one line.
        os.kill(state["supervisor_pid"], signal.SIGKILL)
        wait_for(lambda: not any(pid_alive(pid) for pid in all_pids(state)), timeout=30,
                 what="the supervisor's processes to die with it")
        report = json.loads(devnet("--state-dir", str(tmp_path), "status", "--json").stdout)
        assert report["running"] is False and "supervisor" in report["warning"], report
        for command in (["sequencer", "list"], ["sequencer", "censor", "--off"],
                        ["force-include", "--raw-tx", "0x01"]):
            dead = devnet("--state-dir", str(tmp_path), *command)
            assert dead.returncode != 0 and "Traceback" not in dead.stderr, dead.stderr
            assert "cannot reach" in dead.stderr or "Connection refused" in dead.stderr, dead.stderr
    finally:
        down = devnet("--state-dir", str(tmp_path), "down")
    assert down.returncode == 0 and "no devnet process was running" in down.stdout, down.stdout
    wait_for(
        lambda: not any(pid_alive(pid) for pid in all_pids(state)), timeout=15, what="every process to stop"
    )
    assert json.loads((tmp_path / "state.json").read_text())["ready"] is False


@pytest.mark.slow
def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devnet.cli", "--state-dir", str(tmp_path), "up", *FREE_PORTS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        state = wait_for(lambda: _ready_state(tmp_path / "state.json"), timeout=60, what="devnet up")
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "devnet stopped" in output
    wait_for(lambda: not any(pid_alive(pid) for pid in all_pids(state)), timeout=15, what="children to stop")


def _ready_state(path: Path) -> dict | None:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if state.get("ready") and state.get("supervisor_pid") else None


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "devnet.toml"
    config.write_text("[l1]\nblock_tme = 2\n")
    result = devnet("--config", str(config), "--state-dir", str(tmp_path), "up")
    assert result.returncode != 0 and "unknown key [l1] block_tme" in result.stderr
    config.write_text("[l2]\nblock_time = 'fast'\n")
    result = devnet("--config", str(config), "--state-dir", str(tmp_path), "up")
    assert result.returncode != 0 and "block_time must be float" in result.stderr
    config.write_text("[l2\n")
    result = devnet("--config", str(config), "--state-dir", str(tmp_path), "up")
    assert result.returncode != 0 and "not valid TOML" in result.stderr
    result = devnet("--state-dir", str(tmp_path), "up", "--mode", "lottery")
    assert result.returncode != 0 and "mode 'lottery' is not available" in result.stderr
    assert not (tmp_path / "state.json").exists()


def test_busy_port_is_a_clear_error_and_leaves_nothing_running(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.time()
        result = devnet(
            "--state-dir",
            str(tmp_path),
            "up",
            "--l1-port",
            "0",
            "--sequencer-port",
            str(port),
            "--verifier-port",
            "0",
            "--gateway-port",
            "0",
        )
    assert result.returncode != 0 and f"port {port}" in result.stderr and "already in use" in result.stderr
    assert time.time() - started < 30
    anvil_log = tmp_path / "logs" / "anvil.log"
    assert not anvil_log.exists(), "nothing is started when a port is taken"


def test_status_and_down_without_a_devnet(tmp_path: Path) -> None:
    for command in ("status", "down"):
        result = devnet("--state-dir", str(tmp_path), command)
        assert result.returncode != 0 and "no devnet state" in result.stderr


@pytest.mark.slow
def test_pos_sequencer_commands(tmp_path: Path) -> None:
    config = tmp_path / "devnet.toml"
    config.write_text("[l1]\nepoch_length = 8\n[sequencers]\ncount = 3\nunbonding_delay = 2\n")
    base = ["--config", str(config), "--state-dir", str(tmp_path)]
    up = devnet(*base, "up", "--detach", "--mode", "pos", "--chains", "901,902", *FREE_PORTS)
    assert up.returncode == 0, up.stderr + up.stdout
    state = json.loads((tmp_path / "state.json").read_text())
    try:
        assert [c["chain_id"] for c in state["chains"]] == [901, 902]
        report = json.loads(devnet(*base, "status", "--json", "--chain", "902").stdout)
        assert [c["chain_id"] for c in report["chains"]] == [902]
        assert all(n["healthy"] for n in report["chains"][0]["nodes"]), report
        assert devnet(*base, "status", "--chain", "903").returncode != 0  # no such chain: a clear error
        assert "gateway-902" in devnet(*base, "logs", "gateway", "--chain", "902").stdout
        listed_902 = json.loads(devnet(*base, "sequencer", "list", "--json", "--chain", "902").stdout)
        assert sum(row["leader"] for row in listed_902) == 1
        listed = json.loads(devnet(*base, "sequencer", "list", "--json").stdout)
        assert [row["name"] for row in listed] == ["sequencer-0", "sequencer-1", "sequencer-2"]
        assert sum(row["leader"] for row in listed) == 1 and all(row["stake_eth"] == 10 for row in listed)
        follower = next(row["name"] for row in listed if not row["leader"])
        killed = devnet(*base, "sequencer", "kill", follower)
        assert killed.returncode == 0 and "stopped" in killed.stdout, killed.stderr
        started = devnet(*base, "sequencer", "start", follower)
        assert started.returncode == 0 and "running" in started.stdout, started.stderr
        assert devnet(*base, "sequencer", "start", follower).returncode != 0  # already running
        listed = {row["name"]: row for row in json.loads(devnet(*base, "sequencer", "list", "--json").stdout)}
        assert listed[follower]["process_alive"] and listed[follower]["blocks_built"] is not None
        rotated = devnet(*base, "sequencer", "rotate")
        assert rotated.returncode == 0 and "begins; leader 0x" in rotated.stdout
        report = json.loads(devnet(*base, "status", "--json").stdout)
        assert len(report["schedule"]) == 4 and report["schedule"][0]["leader"].startswith("0x")
        assert devnet(*base, "stake", follower, "--amount", "2").returncode == 0
        assert devnet(*base, "unstake", follower).returncode == 0
        listed = {row["name"]: row for row in json.loads(devnet(*base, "sequencer", "list", "--json").stdout)}
        assert listed[follower]["stake_eth"] == 12 and listed[follower]["active"] is False
        assert listed[follower]["unbonding_until"] is not None
        assert devnet(*base, "unstake", follower).returncode != 0  # not active any more
    finally:
        state = json.loads((tmp_path / "state.json").read_text())  # with the pid of the restarted node
        assert devnet(*base, "down").returncode == 0
    wait_for(
        lambda: not any(pid_alive(pid) for pid in all_pids(state)), timeout=15, what="every process to stop"
    )
