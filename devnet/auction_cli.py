"""`devnet auction status|bid`: the sealed-bid auction of mode `auction`, from the command line."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import click
from rich.table import Table

BID_DEADLINE_SECONDS = 120.0


@click.group()
def auction() -> None:
    """Mode auction: show auctions, or bid for an epoch as one of the sequencers."""


@auction.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.option("--chain", "chain_id", type=int, help="L2 chain id (default: the devnet's first chain)")
@click.pass_context
def status(ctx: click.Context, as_json: bool, chain_id: int | None) -> None:
    """Recent and upcoming auctions: phase, commitments, reveals, winner, price; proceeds per staker."""
    from devnet.cli import _chain, _state, console
    from devnet.rpc import rpc_call

    state = _state(ctx)
    chain = _chain(state, chain_id)
    try:
        info = rpc_call(chain["rpc"], "rollup_auction", timeout=30)
    except Exception as exc:
        raise click.ClickException(f"rollup_auction failed: {exc}") from exc
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    console.print(f"chain {info['chainId']}  L1 block {info['l1Block']}  epoch {info['epoch']}  "
                  f"reserve {int(info['reservePrice']) / 1e18} ETH  proceeds to stakers "
                  f"{int(info['proceedsToStakers']) / 1e18} ETH")
    table = Table(title="auctions")
    for column in ("epoch", "phase", "closes at", "bids (revealed)", "winner", "price ETH"):
        table.add_column(column)
    for entry in info["auctions"]:
        bids = ", ".join(f"{b['bidder'][:8]}{'=' + str(int(b['amount']) / 1e18) if b['revealed'] else ' sealed'}"
                         for b in entry["bids"]) or "-"
        table.add_row(str(entry["epoch"]), entry["phase"], str(entry["biddingClosesAtL1Block"]), bids,
                      entry["winner"] or "-", str(int(entry["price"]) / 1e18))
    console.print(table)
    stakers = Table(title="stakers")
    for column in ("address", "stake ETH", "claimable ETH"):
        stakers.add_column(column)
    for row in info["stakers"]:
        stakers.add_row(row["address"], str(int(row["stake"]) / 1e18), str(int(row["claimable"]) / 1e18))
    console.print(stakers)


@auction.command("bid")
@click.option("--epoch", type=int, required=True, help="the epoch to bid for")
@click.option("--amount", "amount_eth", type=str, required=True, help="the bid in ETH (also the collateral)")
@click.option("--from", "name", required=True, help="the sequencer that bids, e.g. sequencer-1")
@click.option("--chain", "chain_id", type=int, help="L2 chain id (default: the devnet's first chain)")
@click.pass_context
def bid(ctx: click.Context, epoch: int, amount_eth: str, name: str, chain_id: int | None) -> None:
    """Commit a sealed bid for EPOCH, wait for the reveal window and reveal it."""
    from decimal import Decimal, InvalidOperation

    from devnet.cli import _chain, _l1, _registry, _state, console
    from devnet.sequencer_tx import send_as_sequencer

    state = _state(ctx)
    from toolkit.modes import mode_named

    if not mode_named(state["mode"]).auctions:
        raise click.ClickException(f"mode {state['mode']} has no auction (start one with --mode auction)")
    entry = next((s for s in state["sequencers"] if s["name"] == name), None)
    if entry is None:
        raise click.ClickException(f"no sequencer {name}: {[s['name'] for s in state['sequencers']]}")
    try:
        amount = int(Decimal(amount_eth) * 10**18)
    except InvalidOperation:
        raise click.ClickException(f"--amount {amount_eth!r} is not an amount of ETH") from None
    if amount <= 0:
        raise click.ClickException("--amount must be > 0")
    chain = _chain(state, chain_id)["chain_id"]
    l1, registry = _l1(state), _registry(state)
    sender, key = entry["address"], entry["private_key"]
    salt = os.urandom(32)

    def send(call: Any, value: int = 0) -> int:
        return int(send_as_sequencer(l1, registry.abi, key, call, value)["blockNumber"])

    commitment = registry.functions.commitmentOf(chain, epoch, sender, amount, salt).call()
    block = send(registry.functions.commitBid(chain, epoch, commitment), value=amount)
    console.print(f"{name} committed a sealed bid for epoch {epoch} in L1 block {block}")
    opens = int(registry.functions.closeBlock(epoch).call())
    deadline = time.monotonic() + BID_DEADLINE_SECONDS
    while l1.eth.block_number + 1 < opens:
        if time.monotonic() > deadline:
            raise click.ClickException(f"the reveal window (L1 block {opens}) did not open in time; "
                                       "the commitment stands unrevealed")
        time.sleep(0.2)
    block = send(registry.functions.revealBid(chain, epoch, amount, salt))
    console.print(f"{name} revealed {amount_eth} ETH for epoch {epoch} in L1 block {block}")
