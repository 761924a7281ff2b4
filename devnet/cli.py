"""The `devnet` command: up, down, status, logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from devnet.config import ConfigError, DevnetConfig, load_config
from devnet.network import Devnet, DevnetError, rpc_call
from devnet.state import StateError, read_state, write_state
from devnet.supervisor import ProcessFailed, pid_alive, stop_pid
from toolkit.l1.artifacts import ArtifactError

console = Console()
DEFAULT_CONFIG = Path("devnet.toml")
DETACH_READY_SECONDS = 120


def _config(ctx: click.Context, **overrides: Any) -> DevnetConfig:
    path = ctx.obj["config_path"]
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    values = dict(overrides)
    if ctx.obj.get("state_dir"):
        values["devnet.state_dir"] = ctx.obj["state_dir"]
    try:
        return load_config(path, values)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="devnet.toml to read")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), help="where state and logs go")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, state_dir: Path | None) -> None:
    """A local devnet for decentralised rollup sequencing."""
    ctx.ensure_object(dict)
    if config_path is not None and not config_path.exists():
        raise click.ClickException(f"config file {config_path} does not exist")
    ctx.obj["config_path"] = config_path
    ctx.obj["state_dir"] = str(state_dir) if state_dir else None


@main.command()
@click.option("--detach", is_flag=True, help="return once ready; stop later with `devnet down`")
@click.option("--mode", type=str, help="sequencing mode (single)")
@click.option("--l1-port", type=int, help="Anvil port (0 = any free port)")
@click.option("--l1-block-time", type=float, help="seconds per L1 block")
@click.option("--l2-block-time", type=float, help="seconds per L2 block (0 = a block per transaction)")
@click.option("--sequencer-port", type=int, help="sequencer node RPC port (0 = any free port)")
@click.option("--verifier-port", type=int, help="verifier node RPC port (0 = any free port)")
@click.option("--batch-blocks", type=int, help="post a batch once this many L2 blocks wait")
@click.option("--batch-seconds", type=float, help="post a batch once the oldest waiting block is this old")
@click.pass_context
def up(ctx: click.Context, detach: bool, **flags: Any) -> None:
    """Start Anvil, deploy the contracts, start the sequencer and verifier nodes."""
    config = _config(
        ctx,
        **{
            "devnet.mode": flags["mode"],
            "l1.port": flags["l1_port"],
            "l1.block_time": flags["l1_block_time"],
            "l2.block_time": flags["l2_block_time"],
            "nodes.sequencer_port": flags["sequencer_port"],
            "nodes.verifier_port": flags["verifier_port"],
            "batcher.max_blocks": flags["batch_blocks"],
            "batcher.max_seconds": flags["batch_seconds"],
        },
    )
    _refuse_if_running(config)
    if detach:
        _up_detached(ctx, config, flags)
        return
    _up_foreground(config)


def _refuse_if_running(config: DevnetConfig) -> None:
    try:
        state = read_state(config.state_file)
    except StateError:
        return
    if state.get("supervisor_pid") and pid_alive(int(state["supervisor_pid"])):
        raise click.ClickException(f"a devnet is already up (state {config.state_file}); `devnet down` first")


def _up_foreground(config: DevnetConfig) -> None:
    network = Devnet(config)
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        with console.status("starting devnet..."):
            state = network.up()
        state["supervisor_pid"] = os.getpid()
        write_state(config.state_file, state)
        _print_summary(state, config)
        console.print("[bold green]devnet is up[/] - Ctrl-C stops it")
        while True:
            for name, process in network.processes.items():
                if not process.alive() and not getattr(process, "_reported", False):
                    process._reported = True  # type: ignore[attr-defined]
                    console.print(f"[red]{name} exited[/] (code {process.process.returncode}); log: {process.log_path}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("stopping devnet...")
    except (DevnetError, ProcessFailed, ArtifactError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        network.down()
        _mark_stopped(config)
    console.print("devnet stopped")


def _mark_stopped(config: DevnetConfig) -> None:
    try:
        state = read_state(config.state_file)
    except StateError:
        return
    state.update(ready=False, supervisor_pid=None, stopped_at=int(time.time()))
    write_state(config.state_file, state)


def _up_detached(ctx: click.Context, config: DevnetConfig, flags: dict[str, Any]) -> None:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    if config.state_file.exists():
        config.state_file.unlink()
    argv = [sys.executable, "-m", "devnet.cli"]
    if ctx.obj["config_path"]:
        argv += ["--config", str(ctx.obj["config_path"])]
    argv += ["--state-dir", str(config.state_dir), "up"]
    for name, value in flags.items():
        if value is not None:
            argv += ["--" + name.replace("_", "-"), str(value)]
    log_path = config.state_dir / "logs" / "supervisor.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        supervisor = subprocess.Popen(
            argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "COLUMNS": "160"},
        )
    deadline = time.monotonic() + DETACH_READY_SECONDS
    while time.monotonic() < deadline:
        if supervisor.poll() is not None:
            raise click.ClickException(f"devnet failed to start; see {log_path}:\n{_tail(log_path)}")
        try:
            state = read_state(config.state_file)
            if state.get("ready") and state.get("supervisor_pid") == supervisor.pid:
                _print_summary(state, config)
                console.print(f"[bold green]devnet is up[/] in the background (pid {supervisor.pid}); `devnet down` stops it")
                return
        except StateError:
            pass
        time.sleep(0.2)
    stop_pid(supervisor.pid)
    raise click.ClickException(f"devnet not ready within {DETACH_READY_SECONDS}s; see {log_path}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@main.command()
@click.pass_context
def down(ctx: click.Context) -> None:
    """Stop a devnet started with --detach (or left running)."""
    config = _config(ctx)
    try:
        state = read_state(config.state_file)
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    stopped = []
    supervisor_pid = state.get("supervisor_pid")
    if supervisor_pid and stop_pid(int(supervisor_pid), grace_seconds=20):
        stopped.append(f"supervisor {supervisor_pid}")
    # Belt and braces: anything the supervisor did not stop.
    pids = [n["pid"] for c in state.get("chains", []) for n in c.get("nodes", [])] + [state.get("l1", {}).get("pid")]
    for pid in pids:
        if pid and pid_alive(int(pid)) and stop_pid(int(pid)):
            stopped.append(str(pid))
    _mark_stopped(config)
    console.print("devnet stopped" if stopped else "no devnet process was running")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--watch", is_flag=True, help="refresh every second until Ctrl-C")
@click.pass_context
def status(ctx: click.Context, as_json: bool, watch: bool) -> None:
    """L1 head, each node's unsafe/safe/finalized heads, the sequencer, batches, process health."""
    config = _config(ctx)
    while True:
        try:
            report = collect_status(read_state(config.state_file))
        except StateError as exc:
            raise click.ClickException(str(exc)) from exc
        if as_json:
            click.echo(json.dumps(report, indent=2))
        else:
            if watch:
                console.clear()
            _print_status(report)
        if not watch:
            return
        try:
            time.sleep(1)
        except KeyboardInterrupt:
            return


def collect_status(state: dict[str, Any]) -> dict[str, Any]:
    l1 = state["l1"]
    report: dict[str, Any] = {"mode": state.get("mode"), "running": bool(state.get("ready")), "l1": {"rpc": l1["rpc"]}}
    try:
        report["l1"]["head"] = int(rpc_call(l1["rpc"], "eth_blockNumber", timeout=2), 16)
        report["l1"]["healthy"] = True
    except Exception as exc:
        report["l1"].update(healthy=False, error=str(exc))
    report["chains"] = []
    for chain in state.get("chains", []):
        chain_report: dict[str, Any] = {"chain_id": chain["chain_id"], "rpc": chain["rpc"], "nodes": []}
        for node in chain["nodes"]:
            entry: dict[str, Any] = {"name": node["name"], "role": node["role"], "rpc": node["rpc"], "pid": node["pid"]}
            entry["process_alive"] = bool(node.get("pid")) and pid_alive(int(node["pid"]))
            try:
                sync = rpc_call(node["rpc"], "rollup_syncStatus", timeout=2)
                sequencer = rpc_call(node["rpc"], "rollup_sequencer", timeout=2)
                entry.update(
                    healthy=True,
                    unsafe=sync["unsafeL2"]["number"],
                    safe=sync["safeL2"]["number"],
                    finalized=sync["finalizedL2"]["number"],
                    batches_derived=sync["batchesDerived"],
                    batches_skipped=sync["batchesSkipped"],
                    sequencer=sequencer["sequencer"],
                    epoch=sequencer["epoch"],
                )
                if "sequencing" in sync:
                    entry["batches_posted"] = sync["sequencing"]["batchesPosted"]
                    entry["mempool"] = sync["sequencing"]["mempool"]
                    entry["last_batch_error"] = sync["sequencing"]["lastBatchError"]
            except Exception as exc:
                entry.update(healthy=False, error=str(exc))
            chain_report["nodes"].append(entry)
        report["chains"].append(chain_report)
    return report


def _print_status(report: dict[str, Any]) -> None:
    l1 = report["l1"]
    l1_text = f"head {l1['head']}" if l1.get("healthy") else f"[red]down[/] ({l1.get('error')})"
    console.print(f"mode [bold]{report['mode']}[/]  L1 {l1['rpc']}  {l1_text}")
    for chain in report["chains"]:
        table = Table(title=f"L2 chain {chain['chain_id']}  ({chain['rpc']})")
        for column in ("node", "role", "health", "unsafe", "safe", "finalized", "batches", "sequencer"):
            table.add_column(column)
        for node in chain["nodes"]:
            health = "[green]ok[/]" if node.get("healthy") else ("[red]down[/]" if not node["process_alive"] else "[yellow]no rpc[/]")
            batches = (
                f"{node.get('batches_posted', '-')} posted / {node.get('batches_derived', '-')} derived"
                if node.get("healthy") else "-"
            )
            table.add_row(
                node["name"], node["role"], health, str(node.get("unsafe", "-")), str(node.get("safe", "-")),
                str(node.get("finalized", "-")), batches, str(node.get("sequencer", "-")),
            )
        console.print(table)


def _print_summary(state: dict[str, Any], config: DevnetConfig) -> None:
    table = Table(title=f"devnet ({state['mode']}) - ready in {state['startup_seconds']}s", show_header=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")  # keys and URLs wrap, never get cut
    table.add_row("L1 RPC", f"{state['l1']['rpc']}  (chain id {state['l1']['chain_id']})")
    for name, address in state["contracts"].items():
        table.add_row(name, address)
    for chain in state["chains"]:
        for node in chain["nodes"]:
            table.add_row(
                f"L2 {chain['chain_id']} {node['name']}", f"{node['rpc']}  {node['ws']}  ({node['role']})"
            )
    for sequencer in state["sequencers"]:
        table.add_row(f"sequencer {sequencer['name']}", sequencer["address"])
    for index, account in enumerate(state["accounts"]):
        table.add_row(f"account {index}", f"{account['address']}  {account['private_key']}")
    table.add_row("state file", str(config.state_file))
    table.add_row("logs", str(config.state_dir / "logs"))
    console.print(table)


@main.command()
@click.argument("name", required=False)
@click.option("-n", "--lines", default=40, help="lines of each log")
@click.pass_context
def logs(ctx: click.Context, name: str | None, lines: int) -> None:
    """Show the end of each process's log (or of NAME: anvil, sequencer-0, verifier-0, supervisor)."""
    config = _config(ctx)
    log_dir = config.state_dir / "logs"
    files = sorted(log_dir.glob("*.log"))
    if name:
        files = [f for f in files if f.stem == name]
        if not files:
            raise click.ClickException(f"no log named {name} in {log_dir}")
    if not files:
        raise click.ClickException(f"no logs in {log_dir}")
    for path in files:
        console.rule(path.stem)
        click.echo(_tail(path, lines))


if __name__ == "__main__":
    main()
