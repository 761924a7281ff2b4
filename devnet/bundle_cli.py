"""`devnet bundle send|status`: cross-rollup bundles of mode shared, from the command line.

    devnet bundle send --tx 0x<raw on 901> --tx 0x<raw on 902> [--atomicity execution] [--wait]
    devnet bundle status 0x<bundleId>

Raw transactions can come from any signer (`cast mktx`, ethers, web3.py). A bundle is taken by the
leader; its record lives on that node, which `status` finds by asking every sequencer node.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

POLL_SECONDS = 0.2


@click.group()
def bundle() -> None:
    """Mode shared: send a cross-chain bundle through a gateway, or look one up."""


def _shared_state(ctx: click.Context) -> dict[str, Any]:
    from devnet.cli import _state
    from toolkit.modes import mode_named

    state = _state(ctx)
    if not mode_named(str(state.get("mode"))).shares_batches:  # bundles ride on the shared batches' slots
        raise click.ClickException(f"bundles belong to mode shared; this devnet runs mode {state.get('mode')}")
    return state


def _print_record(record: dict[str, Any], as_json: bool) -> None:
    from devnet.cli import console

    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    console.print(f"bundle [bold]{record['bundleId']}[/] ({record.get('atomicity')}): {record['status']}"
                  + (f" - {record['reason']}" if record.get("reason") else "")
                  + (f", slot {record['slot']}" if record.get("slot") is not None else ""))
    blocks = record.get("blocks") or {}
    for leg in record.get("legs", []):
        where = f"L2 block {blocks[str(leg['chainId'])]}" if str(leg["chainId"]) in blocks else "not in a block"
        console.print(f"  chain {leg['chainId']}: {leg['txHash']}  {where}")


@bundle.command("send")
@click.option("--tx", "txs", multiple=True, required=True, help="a signed raw transaction on any chain of the set (repeat, in order)")
@click.option("--atomicity", type=click.Choice(["inclusion", "execution"]), default="inclusion", show_default=True,
              help="inclusion: every leg lands in one slot or none; execution: also every leg succeeds")
@click.option("--chain", "chain_id", type=int, help="the gateway to send through (default: the first chain's)")
@click.option("--wait", is_flag=True, help="wait until the leader included or dropped it")
@click.option("--timeout", type=float, default=60, show_default=True, help="seconds --wait may take")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def send(ctx: click.Context, txs: tuple[str, ...], atomicity: str, chain_id: int | None, wait: bool, timeout: float,
         as_json: bool) -> None:
    """Send a bundle of raw transactions; exits non-zero when it was refused or dropped."""
    from devnet.cli import _chain, console
    from devnet.rpc import rpc_call

    state = _shared_state(ctx)
    chain = _chain(state, chain_id)
    try:
        taken = rpc_call(chain["rpc"], "rollup_sendBundle", [{"txs": list(txs), "atomicity": atomicity}])
    except RuntimeError as exc:
        raise click.ClickException(f"bundle refused: {exc}") from exc
    if not wait:
        if as_json:
            _print_record(taken, as_json)
        else:
            console.print(f"bundle [bold]{taken['bundleId']}[/] taken by {taken['node']}; "
                          f"`devnet bundle status {taken['bundleId']}` follows it")
        return
    node = next(n["rpc"] for n in chain["nodes"] if n["name"] == taken["node"])
    deadline = time.monotonic() + timeout
    while (record := rpc_call(node, "rollup_getBundle", [taken["bundleId"]]))["status"] == "pending":
        if time.monotonic() > deadline:
            raise click.ClickException(f"bundle {taken['bundleId']} still pending after {timeout:g} s")
        time.sleep(POLL_SECONDS)
    _print_record(record, as_json)
    if record["status"] != "included":
        raise SystemExit(1)


@bundle.command("status")
@click.argument("bundle_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, bundle_id: str, as_json: bool) -> None:
    """A bundle's record (pending, included with its slot and blocks, or dropped with the reason)."""
    from devnet.rpc import rpc_call

    state = _shared_state(ctx)
    for node in state["chains"][0]["nodes"]:
        if node["role"] != "sequencer":
            continue
        try:
            record = rpc_call(node["rpc"], "rollup_getBundle", [bundle_id], timeout=5)
        except RuntimeError as exc:
            raise click.ClickException(f"bad bundle id: {exc}") from exc
        except OSError:
            continue  # a node that is down holds nothing we can read
        if record is not None:
            _print_record(record, as_json)
            return
    raise click.ClickException(f"no running sequencer node knows bundle {bundle_id}")
