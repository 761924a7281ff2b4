"""The `devnet` command: up, down, save, status, logs, force-include, sequencer, stake, unstake."""

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

from devnet.auction_cli import auction
from devnet.bundle_cli import bundle
from devnet.config import ConfigError, DevnetConfig, load_config
from devnet.rpc import rpc_call
from devnet.saved import SavedDevnet, SaveError, save_devnet
from devnet.state import StateError, check_state_dir, read_state, write_state
from devnet.supervisor import ProcessFailed, pid_alive, stop_pid
from toolkit.l1.artifacts import ArtifactError
from toolkit.modes import MODES, mode_named

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


def unreachable(exc: BaseException) -> str | None:
    """One line for a refused or dead connection (a port nothing listens on any more), else None."""
    import urllib.error

    import requests

    if isinstance(exc, requests.exceptions.ConnectionError):
        url = exc.request.url if exc.request is not None else "an RPC endpoint"
        return f"cannot reach {url}: nothing answers there (connection refused or timed out)"
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"cannot reach the devnet: {exc.reason}"
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"cannot reach the devnet: {exc}"
    return None


class DevnetGroup(click.Group):
    """Every command: a dead port is one clear line naming it, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = unreachable(exc)
            if message is None:
                raise
            raise click.ClickException(
                f"{message}. Is the devnet up? `devnet status` shows which processes run."
            ) from exc


@click.group(cls=DevnetGroup)
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
@click.option("--mode", type=str, help="sequencing mode: single, committee, pos, auction or shared (2 to 8 --chains)")
@click.option("--sequencers", type=int, help="validators/operators in modes committee, pos, auction and shared (default 3)")
@click.option("--chains", type=str, help="L2 chain ids, e.g. 901,902 (each gets its own gateway and verifier)")
@click.option("--gateway-port", type=int, help="the chain's stable RPC port (0 = any free port)")
@click.option("--l1-port", type=int, help="Anvil port (0 = any free port)")
@click.option("--l1-rpc", type=str, help="deploy to this existing L1 (a running Anvil, geth --dev) instead of starting Anvil")
@click.option("--l1-key", type=str, envvar="DEVNET_L1_KEY",
              help="with --l1-rpc: a funded L1 private key that deploys and funds the sequencers (or $DEVNET_L1_KEY)")
@click.option("--l1-block-time", type=float, help="seconds per L1 block")
@click.option("--l2-block-time", type=float, help="seconds per L2 block, e.g. 0.1 (0 = a block per transaction)")
@click.option("--sequencer-port", type=int, help="first sequencer node's RPC port; the i-th uses +i (0 = free ports)")
@click.option("--verifier-port", type=int, help="verifier node RPC port (0 = any free port)")
@click.option("--batch-blocks", type=int, help="post a batch once this many L2 blocks wait")
@click.option("--batch-seconds", type=float, help="post a batch once the oldest waiting block is this old")
@click.option("--load", "load_dir", type=click.Path(path_type=Path, file_okay=False),
              help="start the devnet `devnet save DIR` saved (its settings; ports and state dir from here)")
@click.pass_context
def up(ctx: click.Context, detach: bool, **flags: Any) -> None:
    """Start Anvil, deploy the contracts, start the sequencer and verifier nodes."""
    load_dir = flags.pop("load_dir")
    config = _config(
        ctx,
        **{
            "devnet.mode": flags["mode"],
            "sequencers.count": flags["sequencers"],
            "chains": flags["chains"],
            "nodes.gateway_port": flags["gateway_port"],
            "l1.port": flags["l1_port"],
            "l1.rpc_url": flags["l1_rpc"],
            "l1.key": flags["l1_key"],
            "l1.block_time": flags["l1_block_time"],
            "l2.block_time": flags["l2_block_time"],
            "nodes.sequencer_port": flags["sequencer_port"],
            "nodes.verifier_port": flags["verifier_port"],
            "batcher.max_blocks": flags["batch_blocks"],
            "batcher.max_seconds": flags["batch_seconds"],
        },
    )
    saved = None
    if load_dir is not None:
        config, saved = _loaded(config, load_dir, flags)
    try:
        check_state_dir(config.state_dir)
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc
    _refuse_if_running(config)
    if detach:
        _up_detached(ctx, config, {**flags, "load": str(load_dir.resolve()) if load_dir else None})
        return
    _up_foreground(config, saved)


# flags that say what a devnet is: a loaded devnet is what its save says
_SAVED_SETTINGS_FLAGS = ("mode", "sequencers", "chains", "l1_rpc", "l1_key", "l1_block_time", "l2_block_time",
                         "batch_blocks", "batch_seconds")


def _loaded(config: DevnetConfig, load_dir: Path, flags: dict[str, Any]) -> tuple[DevnetConfig, SavedDevnet]:
    changed = [name for name in _SAVED_SETTINGS_FLAGS if flags.get(name) is not None]
    if changed:
        raise click.ClickException(
            f"--{changed[0].replace('_', '-')} cannot change a saved devnet: --load takes every setting from the "
            "save (only ports, host and --state-dir from here)"
        )
    try:
        saved = SavedDevnet.read(load_dir)
        return saved.config(config), saved
    except (SaveError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


def _refuse_if_running(config: DevnetConfig) -> None:
    try:
        state = read_state(config.state_file)
    except StateError:
        return
    if state.get("supervisor_pid") and pid_alive(int(state["supervisor_pid"])):
        raise click.ClickException(f"a devnet is already up (state {config.state_file}); `devnet down` first")


def _up_foreground(config: DevnetConfig, saved: SavedDevnet | None = None) -> None:
    # the processes' machinery, loaded only by the command that starts them (the others start fast)
    from devnet.control import serve_control
    from devnet.network import Devnet, DevnetError

    network = Devnet(config, saved=saved)
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    # Also when started from a script in the background, which makes SIGINT ignored: an explicit
    # Ctrl-C / `kill -INT` still stops the devnet.
    signal.signal(signal.SIGINT, on_signal)
    try:
        with console.status("starting devnet..."):
            state = network.up()
        control, state["control_url"] = serve_control(network)
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
    except (DevnetError, ProcessFailed, ArtifactError, StateError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        network.down()
        _mark_stopped(config)
        if "control" in locals():
            control.shutdown()
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
    env = {**os.environ, "COLUMNS": "160"}
    for name, value in flags.items():
        if name == "l1_key" and value is not None:
            env["DEVNET_L1_KEY"] = str(value)  # a key is never put on a command line (ps shows those)
        elif value is not None:
            argv += ["--" + name.replace("_", "-"), str(value)]
    log_path = config.state_dir / "logs" / "supervisor.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        supervisor = subprocess.Popen(
            argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env=env,
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
    pids = [n["pid"] for c in state.get("chains", []) for n in c.get("nodes", [])]
    pids += [c.get("gateway", {}).get("pid") for c in state.get("chains", [])] + [state.get("l1", {}).get("pid")]
    for pid in pids:
        if pid and pid_alive(int(pid)) and stop_pid(int(pid)):
            stopped.append(str(pid))
    _mark_stopped(config)
    console.print("devnet stopped" if stopped else "no devnet process was running")


@main.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--timeout", type=float, default=60, show_default=True,
              help="seconds to wait for the latest L2 blocks to be in a batch on L1")
@click.pass_context
def save(ctx: click.Context, directory: Path, timeout: float) -> None:
    """Save the running devnet into DIRECTORY (its L1 with history; every L2 follows from it).

    Waits until every L2 block built so far is in a batch on L1. `devnet up --load DIRECTORY` starts
    it again, on any ports, as often as you like."""
    state = _state(ctx)
    try:
        with console.status("waiting for the latest L2 blocks to be on L1..."):
            saved = save_devnet(state, directory, timeout)
    except SaveError as exc:
        raise click.ClickException(str(exc)) from exc
    heads = ", ".join(f"chain {chain}: block {head.number}" for chain, head in saved.heads.items())
    console.print(f"saved the devnet into {directory} (L1 block {saved.l1_block}; {heads}); "
                  f"`devnet up --load {directory}` starts it again")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--watch", is_flag=True, help="refresh every second until Ctrl-C")
@click.option("--chain", "chain_id", type=int, help="L2 chain id (default: every chain)")
@click.pass_context
def status(ctx: click.Context, as_json: bool, watch: bool, chain_id: int | None) -> None:
    """L1 head, each node's unsafe/safe/finalized heads, the sequencer, batches, process health."""
    config = _config(ctx)
    while True:
        try:
            report = collect_status(read_state(config.state_file), chain_id)
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


def collect_status(state: dict[str, Any], chain_id: int | None = None) -> dict[str, Any]:
    chains = state.get("chains", []) if chain_id is None else [_chain(state, chain_id)]
    l1 = state["l1"]
    supervisor = state.get("supervisor_pid")
    # a devnet the Python API or the pytest plugin runs has no supervisor process: its owner is that process
    report: dict[str, Any] = {"mode": state.get("mode"), "running": bool(state.get("ready")), "l1": {"rpc": l1["rpc"]},
                              "supervisor_alive": None if not supervisor else pid_alive(int(supervisor))}
    if report["running"] and report["supervisor_alive"] is False:
        report["running"] = False
        report["warning"] = (f"the devnet's supervisor (pid {supervisor}) is gone: it was killed or crashed, so nothing "
                             "restarts its processes; `devnet down` stops what is left, `devnet up` starts afresh")
    try:
        report["l1"]["head"] = int(rpc_call(l1["rpc"], "eth_blockNumber", timeout=2), 16)
        report["l1"]["healthy"] = True
    except Exception as exc:
        report["l1"].update(healthy=False, error=str(exc))
    report["chains"] = []
    if mode_named(state["mode"]).rotates and report["l1"].get("healthy"):
        report["schedule"] = _schedule(state, report["l1"]["head"], chains[0]["chain_id"])
    for chain in chains:
        gateway = chain.get("gateway", {})
        chain_report: dict[str, Any] = {
            "chain_id": chain["chain_id"], "rpc": chain["rpc"], "nodes": [],
            "gateway": {"pid": gateway.get("pid"), "restarts": gateway.get("restarts", 0),
                        "process_alive": bool(gateway.get("pid")) and pid_alive(int(gateway["pid"]))},
        }
        for node in chain["nodes"]:
            entry: dict[str, Any] = {"name": node["name"], "role": node["role"], "rpc": node["rpc"], "pid": node["pid"],
                                     "restarts": node.get("restarts", 0)}
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
                    ready=sync.get("ready"),
                    sequencer=sequencer["sequencer"],
                    epoch=sequencer["epoch"],
                    stalled=sync.get("stalled", []),
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


def _schedule(state: dict[str, Any], head: int, chain_id: int, epochs: int = 4) -> list[dict[str, Any]]:
    """A chain's current and next epochs with their leaders (future ones as the current set predicts)."""
    registry = _registry(state)
    length = state["l1"]["epoch_length"]
    schedule = []
    for offset in range(epochs):
        start = (head // length + offset) * length
        block = head if offset == 0 else start
        schedule.append({"epoch": start // length, "starts_at_l1_block": start,
                         "leader": registry.functions.sequencerFor(chain_id, block).call()})
    return schedule


def _print_status(report: dict[str, Any]) -> None:
    l1 = report["l1"]
    l1_text = f"head {l1['head']}" if l1.get("healthy") else f"[red]down[/] ({l1.get('error')})"
    if report.get("warning"):
        console.print(f"[red]{report['warning']}[/]")
    console.print(f"mode [bold]{report['mode']}[/]  L1 {l1['rpc']}  {l1_text}")
    for chain in report["chains"]:
        table = Table(title=f"L2 chain {chain['chain_id']}  ({chain['rpc']})")
        for column in ("node", "role", "health", "unsafe", "safe", "finalized", "batches", "sequencer", "restarts"):
            table.add_column(column)
        for node in chain["nodes"]:
            health = "[green]ok[/]" if node.get("healthy") else ("[red]down[/]" if not node["process_alive"] else "[yellow]no rpc[/]")
            if node.get("healthy") and node.get("ready") is False:
                health = "[yellow]not ready[/]"
            batches = (
                f"{node.get('batches_posted', '-')} posted / {node.get('batches_derived', '-')} derived"
                if node.get("healthy") else "-"
            )
            table.add_row(
                node["name"], node["role"], health, str(node.get("unsafe", "-")), str(node.get("safe", "-")),
                str(node.get("finalized", "-")), batches, str(node.get("sequencer", "-")), str(node.get("restarts", 0)),
            )
        console.print(table)
        gateway = chain.get("gateway", {})
        alive = "[green]running[/]" if gateway.get("process_alive") else "[red]down[/]"
        console.print(f"gateway {alive}, restarted {gateway.get('restarts', 0)} times after a crash")
        for node in chain["nodes"]:
            for stall in node.get("stalled") or []:
                console.print(f"[red]{node['name']} cannot progress[/] ({stall['loop']} loop, "
                              f"{stall['failures']} failures): {stall['error']}")
    if report.get("schedule"):
        table = Table(title="epoch schedule (future leaders as the current set predicts)")
        for column in ("epoch", "starts at L1 block", "leader"):
            table.add_column(column)
        for entry in report["schedule"]:
            table.add_row(str(entry["epoch"]), str(entry["starts_at_l1_block"]), entry["leader"])
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
@click.option("--chain", "chain_id", type=int, help="with NAME gateway: that chain's gateway (nodes serve every chain)")
@click.pass_context
def logs(ctx: click.Context, name: str | None, lines: int, chain_id: int | None) -> None:
    """Show the end of each process's log (or of NAME: anvil, sequencer-0, verifier-0, gateway, supervisor)."""
    config = _config(ctx)
    log_dir = config.state_dir / "logs"
    files = sorted(log_dir.glob("*.log"))
    if name == "gateway" and chain_id is not None:
        state = _state(ctx)
        name = Path(_chain(state, chain_id)["gateway"]["log"]).stem
    if name:
        files = [f for f in files if f.stem == name]
        if not files:
            raise click.ClickException(f"no log named {name} in {log_dir}")
    if not files:
        raise click.ClickException(f"no logs in {log_dir}")
    for path in files:
        console.rule(path.stem)
        click.echo(_tail(path, lines))


def _state(ctx: click.Context) -> dict[str, Any]:
    try:
        return read_state(_config(ctx).state_file)
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc


def _chain(state: dict[str, Any], chain_id: int | None) -> dict[str, Any]:
    """The state entry of an L2 chain; None = the devnet's first chain."""
    if chain_id is None:
        return state["chains"][0]
    for chain in state["chains"]:
        if chain["chain_id"] == chain_id:
            return chain
    raise click.ClickException(f"no L2 chain {chain_id} in this devnet: {[c['chain_id'] for c in state['chains']]}")


def _reachable_node(chain: dict[str, Any], prefer: str | None = None) -> str:
    """The RPC of a node that answers, the `prefer`red role first."""
    nodes = sorted(chain["nodes"], key=lambda n: n["role"] != prefer)
    for node in nodes:
        try:
            rpc_call(node["rpc"], "eth_chainId", timeout=2)
            return node["rpc"]
        except Exception:
            continue
    raise click.ClickException(f"no node of chain {chain['chain_id']} answers")


@main.command("force-include")
@click.option("--chain", "chain_id", type=int, help="L2 chain id (default: the devnet's first chain)")
@click.option("--raw-tx", help="a signed L2 transaction (0x...)")
@click.option("--from-key", help="sign a new L2 transaction with this key")
@click.option("--to", "to_address", help="recipient (with --from-key)")
@click.option("--value", default="0", show_default=True, help="wei (with --from-key)")
@click.option("--data", "call_data", default="0x", show_default=True, help="calldata (with --from-key)")
@click.option("--gas", type=int, default=100_000, show_default=True, help="gas limit (with --from-key)")
@click.option("--l1-key", help="L1 key paying forceInclude (default: --from-key, else dev account 0)")
@click.option("--wait", is_flag=True, help="follow it until it is on the L2, unsafe then safe")
@click.option("--timeout", type=float, default=120, show_default=True, help="seconds --wait may take")
@click.pass_context
def force_include_command(ctx: click.Context, chain_id: int | None, raw_tx: str | None, from_key: str | None,
                          to_address: str | None, value: str, call_data: str, gas: int, l1_key: str | None,
                          wait: bool, timeout: float) -> None:
    """Queue an L2 transaction in the L1 Inbox's forced queue; the L2 must include it by the deadline."""
    from toolkit.force_include import ForceIncludeError, force_include

    state = _state(ctx)
    chain = _chain(state, chain_id)
    chain_id = chain["chain_id"]
    if bool(raw_tx) == bool(from_key):
        raise click.UsageError("give exactly one of --raw-tx or --from-key")
    try:
        if raw_tx:
            raw = bytes.fromhex(raw_tx.removeprefix("0x"))
        else:
            if not to_address:
                raise click.UsageError("--from-key needs --to")
            raw = _sign_l2_tx(chain, chain_id, from_key, to_address, int(value, 0), call_data, gas)
    except ValueError as exc:
        raise click.UsageError(f"bad transaction input: {exc}") from exc
    payer = l1_key or from_key or state["accounts"][0]["private_key"]
    try:
        handle = force_include(state["l1"]["rpc"], state["contracts"]["Inbox"], chain_id, raw, payer)
    except ForceIncludeError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"queued forced entry [bold]{handle.index}[/] for chain {chain_id}: L2 tx {handle.tx_hash}")
    console.print(f"  L1 tx {handle.l1_tx_hash} in L1 block {handle.l1_block}; deadline L1 block {handle.deadline}")
    if not wait:
        return
    rpc = _reachable_node(chain, prefer="verifier")
    try:
        receipt = handle.wait_included(rpc, timeout=timeout)
        console.print(f"  unsafe: in L2 block {int(receipt['blockNumber'], 16)}, status {int(receipt['status'], 16)}")
        receipt = handle.wait_included(rpc, safe=True, timeout=timeout)
        console.print(f"  safe:   L2 block {int(receipt['blockNumber'], 16)} derived from L1")
        click.echo(json.dumps(receipt, indent=2))
    except (ForceIncludeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc


def _sign_l2_tx(chain: dict[str, Any], chain_id: int, key: str, to: str, value: int, data: str, gas: int) -> bytes:
    from eth_account import Account

    rpc = _reachable_node(chain, prefer="sequencer")
    sender = Account.from_key(key).address
    nonce = int(rpc_call(rpc, "eth_getTransactionCount", [sender, "pending"]), 16)
    max_fee = 2 * int(rpc_call(rpc, "eth_gasPrice"), 16)
    tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "to": to, "value": value, "data": data, "gas": gas,
          "maxFeePerGas": max_fee, "maxPriorityFeePerGas": min(max_fee, 10**9)}
    return bytes(Account.sign_transaction(tx, key).raw_transaction)


@main.group()
def sequencer() -> None:
    """Control the sequencer nodes."""


@sequencer.command("censor")
@click.option("--address", "addresses", multiple=True, help="an L2 sender to leave out (repeatable)")
@click.option("--off", is_flag=True, help="stop censoring")
@click.option("--chain", "chain_id", type=int, help="L2 chain id (default: the devnet's first chain)")
@click.pass_context
def censor(ctx: click.Context, addresses: tuple[str, ...], off: bool, chain_id: int | None) -> None:
    """Make the sequencer drop every transaction from ADDRESS (force inclusion still gets them in)."""
    if not addresses and not off:
        raise click.UsageError("give --address (repeatable) or --off")
    chain = _chain(_state(ctx), chain_id)
    for node in chain["nodes"]:
        if node["role"] != "sequencer":
            continue
        if not node.get("admin"):
            raise click.ClickException(f"{node['name']}: test controls are off on this devnet "
                                       "([nodes] test_controls = false)")
        try:
            now = rpc_call(node["admin"], "devnet_setCensored", [[] if off else list(addresses)])
        except Exception as exc:
            raise click.ClickException(f"{node['name']}: {unreachable(exc) or exc}") from exc
        console.print(f"{node['name']} censors: {', '.join(now) if now else 'nobody'}")


def _control(state: dict[str, Any], name: str, action: str) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    url = state.get("control_url")
    if not url or not state.get("ready"):
        raise click.ClickException("no running devnet supervisor (is the devnet up?)")
    request = urllib.request.Request(f"{url}/nodes/{name}/{action}", b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise click.ClickException(json.loads(error.read()).get("error", str(error))) from error
    except OSError as exc:
        raise click.ClickException(f"the supervisor at {url} does not answer: {exc}") from exc


@sequencer.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--chain", "chain_id", type=int, help="L2 chain id (default: the devnet's first chain)")
@click.pass_context
def sequencer_list(ctx: click.Context, as_json: bool, chain_id: int | None) -> None:
    """Every sequencer: address, stake, status (leader, active, jailed, unbonding), blocks built."""
    state = _state(ctx)
    rows = []
    registry = _registry(state)
    l1 = _l1(state)
    chain = _chain(state, chain_id)
    leader = registry.functions.sequencerFor(chain["chain_id"], l1.eth.block_number).call()
    for entry in state["sequencers"]:
        node = next(n for n in chain["nodes"] if n["name"] == entry["name"])
        row: dict[str, Any] = {"name": entry["name"], "address": entry["address"], "leader": entry["address"] == leader,
                               "process_alive": bool(node["pid"]) and pid_alive(int(node["pid"]))}
        row.update(mode_named(state["mode"]).validator_row(registry, entry["address"]))
        try:
            sync = rpc_call(node["rpc"], "rollup_syncStatus", timeout=2)
            row["blocks_built"] = sync.get("sequencing", {}).get("blocksBuilt")
            row["batches_posted"] = sync.get("sequencing", {}).get("batchesPosted")
        except Exception:
            row["blocks_built"] = None
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"sequencers ({state['mode']})")
    for column in ("name", "address", "status", "stake", "blocks", "batches", "process"):
        table.add_column(column)
    for row in rows:
        status = "jailed" if row.get("jailed") else ("unbonding" if row.get("unbonding_until") else (
            "leader" if row["leader"] else ("active" if row.get("active", True) else "inactive")))
        table.add_row(row["name"], row["address"], status, f"{row.get('stake_eth', '-')}",
                      str(row.get("blocks_built")), str(row.get("batches_posted")),
                      "[green]up[/]" if row["process_alive"] else "[red]down[/]")
    console.print(table)


def _l1(state: dict[str, Any]) -> Any:
    from web3 import HTTPProvider, Web3

    return Web3(HTTPProvider(state["l1"]["rpc"]))


def _registry(state: dict[str, Any]) -> Any:
    from toolkit.l1.artifacts import load_artifact

    return _l1(state).eth.contract(address=state["registry"]["address"],
                                   abi=load_artifact(state["registry"]["contract"])["abi"])


for _action, _help in (("stop", "Stop a node (SIGTERM)."), ("kill", "Kill a node (SIGKILL), as a crash would."),
                       ("start", "Start a stopped node again; it catches up from L1 and gossip.")):

    def _make(action: str) -> Any:
        @click.argument("name")
        @click.pass_context
        def command(ctx: click.Context, name: str) -> None:
            result = _control(_state(ctx), name, action)
            console.print(f"{name}: {action} done (pid {result['pid']}, {'running' if result['alive'] else 'stopped'})")

        return command

    sequencer.command(_action, help=_help)(_make(_action))


@sequencer.command("rotate")
@click.option("--chain", "chain_id", type=int, help="L2 chain id (default: the devnet's first chain)")
@click.pass_context
def rotate(ctx: click.Context, chain_id: int | None) -> None:
    """Mine L1 blocks up to the start of the next epoch."""
    state = _state(ctx)
    l1 = _l1(state)
    length = state["l1"]["epoch_length"]
    head = l1.eth.block_number
    blocks = length - head % length
    rpc_call(state["l1"]["rpc"], "anvil_mine", [hex(blocks)])
    chain_id = _chain(state, chain_id)["chain_id"]
    leader = _registry(state).functions.sequencerFor(chain_id, head + blocks).call()
    console.print(f"mined {blocks} L1 blocks: epoch {(head + blocks) // length} begins; leader {leader}")


def _staking_call(ctx: click.Context, name: str, function: str, value: int = 0) -> Any:
    from devnet.sequencer_tx import send_as_sequencer

    state = _state(ctx)
    if not mode_named(state["mode"]).stakes:
        raise click.ClickException(f"mode {state['mode']} has no staking (modes with staking: "
                                   f"{', '.join(name for name, m in MODES.items() if m.stakes)})")
    entry = next((s for s in state["sequencers"] if s["name"] == name), None)
    if entry is None:
        raise click.ClickException(f"no sequencer {name}: {[s['name'] for s in state['sequencers']]}")
    registry = _registry(state)
    return send_as_sequencer(_l1(state), registry.abi, entry["private_key"], getattr(registry.functions, function)(),
                             value)


@main.command()
@click.argument("name")
@click.option("--amount", "amount_eth", type=float, required=True, help="ETH to bond")
@click.pass_context
def stake(ctx: click.Context, name: str, amount_eth: float) -> None:
    """Bond (more) stake for sequencer NAME (mode pos)."""
    receipt = _staking_call(ctx, name, "stake", int(amount_eth * 10**18))
    console.print(f"{name} staked {amount_eth} ETH in L1 block {receipt['blockNumber']}")


@main.command()
@click.argument("name")
@click.pass_context
def unstake(ctx: click.Context, name: str) -> None:
    """Request unbonding for sequencer NAME (mode pos); withdraw after the delay."""
    receipt = _staking_call(ctx, name, "requestUnstake")
    console.print(f"{name} left the set in L1 block {receipt['blockNumber']}; withdraw after the unbonding delay")


main.add_command(auction)
main.add_command(bundle)


def _register_scenario() -> None:
    from devnet.scenario_cli import scenario

    main.add_command(scenario)


_register_scenario()

if __name__ == "__main__":
    main()
