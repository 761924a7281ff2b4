"""`devnet scenario list|run NAME [--json]`: the scenario API's drills on the running devnet, printing
the timeline of what a client on the gateway saw (devnet/scenarios.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console

console = Console()


@click.group()
def scenario() -> None:
    """Drills against the running devnet: reorg, censorship and forced inclusion, held batches, handoffs."""


@scenario.command("list")
def scenario_list() -> None:
    """The drills `devnet scenario run` knows."""
    from devnet.scenarios import DRILLS  # the scenario API loads client libraries: only when asked for

    for drill in DRILLS.values():
        console.print(f"[bold]{drill.name}[/bold]  {drill.description}")


@scenario.command("run")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print the timeline as JSON at the end")
@click.option("--chain", "chain_id", type=int, help="L2 chain id (default: the first chain)")
@click.pass_context
def scenario_run(ctx: click.Context, name: str, as_json: bool, chain_id: int | None) -> None:
    """Run drill NAME on the running devnet, printing each step as a client on the gateway saw it."""
    from devnet.cli import _config  # the CLI's config resolution (--config, --state-dir)
    from devnet.scenarios import run_drill
    from toolkit.testing.scenario import AttachedDevnet, Scenario, ScenarioError

    state_file = Path(_config(ctx).state_file)

    def show(entry: dict[str, Any]) -> None:
        details = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("t", "event", "orphaned", "replaced"))
        console.print(f"[dim]{entry['t']:7.2f}s[/dim]  [bold]{entry['event']}[/bold]  {details}")

    try:
        timeline = run_drill(name, Scenario(AttachedDevnet(state_file), chain_id), None if as_json else show)
    except (ScenarioError, AssertionError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"scenario": name, "timeline": timeline}, indent=2))
