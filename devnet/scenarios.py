"""Drills for `devnet scenario run NAME`: the scenario API (toolkit/testing/scenario.py) on a running
devnet, each returning the timeline of what a client on the gateway saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account import Account

from toolkit.testing.scenario import Scenario, ScenarioError, rpc

Timeline = list[dict[str, Any]]


@dataclass(frozen=True)
class Drill:
    name: str
    description: str
    run: Callable[[Scenario, Callable[..., None]], None]


def _transfer(scenario: Scenario, account_index: int, value: int = 1000) -> tuple[str, bytes]:
    account = Account.from_key(scenario.devnet.state["accounts"][account_index]["private_key"])
    nonce = int(rpc(scenario.gateway, "eth_getTransactionCount", [account.address, "pending"]), 16)
    chain_id = int(scenario.chain["chain_id"])  # type: ignore[index]
    signed = account.sign_transaction({"type": 2, "chainId": chain_id, "nonce": nonce, "to": account.address,
                                       "value": value, "gas": 21_000, "maxFeePerGas": 10**10,
                                       "maxPriorityFeePerGas": 1})
    return signed.hash.to_0x_hex(), bytes(signed.raw_transaction)


def _heads(scenario: Scenario) -> dict[str, int]:
    status = rpc(scenario.gateway, "rollup_syncStatus")
    return {"unsafe": status["unsafeL2"]["number"], "safe": status["safeL2"]["number"],
            "finalized": status["finalizedL2"]["number"]}


def reorg(scenario: Scenario, note: Callable[..., None]) -> None:
    tx_hash, raw = _transfer(scenario, 1)
    rpc(scenario.gateway, "eth_sendRawTransaction", ["0x" + raw.hex()])
    receipt = scenario.wait_for("safe", tx_hash)
    note("transfer safe", txHash=tx_hash, block=int(receipt["blockNumber"], 16), **_heads(scenario))
    result = scenario.reorg_l1(3)
    note("L1 reorg, depth 3", forkPoint=result.fork_point, orphaned=result.orphaned, replaced=result.replaced,
         droppedL1Txs=len(result.dropped), **_heads(scenario))
    receipt = scenario.wait_for("safe", tx_hash)
    note("transfer safe again", txHash=tx_hash, block=int(receipt["blockNumber"], 16), **_heads(scenario))


def censor_and_force_include(scenario: Scenario, note: Callable[..., None]) -> None:
    sender = scenario.devnet.state["accounts"][2]["address"]
    scenario.censor(sender)
    try:
        tx_hash, raw = _transfer(scenario, 2)
        rpc(scenario.gateway, "eth_sendRawTransaction", ["0x" + raw.hex()])
        note("censored transfer sent", txHash=tx_hash, sender=sender, **_heads(scenario))
        forced = scenario.force_include(raw)
        note("queued on L1 (forceInclude)", index=forced.forced.index, deadline=forced.forced.deadline)
        scenario.advance_l1(forced.forced.deadline - forced.forced.l1_block - 1)
        receipt = forced.wait_included(safe=True)
        note("included through L1, safe", block=int(receipt["blockNumber"], 16), **_heads(scenario))
    finally:
        scenario.uncensor()


def pause_batches(scenario: Scenario, note: Callable[..., None]) -> None:
    scenario.pause_batches()
    try:
        tx_hash, raw = _transfer(scenario, 3)
        rpc(scenario.gateway, "eth_sendRawTransaction", ["0x" + raw.hex()])
        receipt = scenario.wait_for("unsafe", tx_hash)
        note("batches paused; transfer unsafe", txHash=tx_hash, block=int(receipt["blockNumber"], 16),
             **_heads(scenario))
        scenario.advance_l1(2)
        note("2 L1 blocks later, no batch", **_heads(scenario))
    finally:
        scenario.resume_batches()
    receipt = scenario.wait_for("safe", tx_hash)
    note("batches resumed; transfer safe", block=int(receipt["blockNumber"], 16), **_heads(scenario))


def handoff(scenario: Scenario, note: Callable[..., None]) -> None:
    change = scenario.handoff()
    note("handoff", **change, **_heads(scenario))


DRILLS = {drill.name: drill for drill in (
    Drill("reorg", "a depth-3 L1 reorg under a safe transfer: the safe head moves back and forward", reorg),
    Drill("censor-and-force-include", "the sequencer censors a sender; the transfer is forced in through L1",
          censor_and_force_include),
    Drill("pause-batches", "batches held back: a transfer stays unsafe until they resume", pause_batches),
    Drill("handoff", "mine L1 to the next epoch until another sequencer leads (committee, pos)", handoff),
)}


def run_drill(name: str, scenario: Scenario, on_note: Callable[[dict[str, Any]], None] | None = None) -> Timeline:
    """Run one drill; returns its timeline (each entry: seconds since the start, what happened, details)."""
    drill = DRILLS.get(name)
    if drill is None:
        raise ScenarioError(f"no scenario {name!r}; scenarios: {', '.join(DRILLS)}")
    started = time.monotonic()
    timeline: Timeline = []

    def note(event: str, **details: Any) -> None:
        entry = {"t": round(time.monotonic() - started, 2), "event": event, **details}
        timeline.append(entry)
        if on_note is not None:
            on_note(entry)

    drill.run(scenario, note)
    return timeline
