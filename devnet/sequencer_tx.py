"""One L1 transaction sent with a sequencer's key from the CLI (stake, unstake, auction bids).

The sequencer's node sends L1 transactions with the same key, so a nonce it took is retried. Gas is
estimated on the pending state, but the transaction may be mined after the state moved (an epoch
boundary makes the registry sync its schedule inside the call), so the limit leaves room (unused
gas is not charged). A mined transaction that reverted is an error, never reported as done.
"""

from __future__ import annotations

import time
from typing import Any

import click
from eth_account import Account
from eth_utils import keccak

NONCE_ATTEMPTS = 5
GAS_HEADROOM = 500_000  # room for the schedule sync an epoch boundary may add before the tx is mined
RECEIPT_SECONDS = 60


def revert_name(abi: list[dict[str, Any]], exc: Exception) -> str:
    """The custom error a revert carries, by name, when the ABI declares it; else the exception text."""
    raw = getattr(exc, "data", None) or (exc.args[1] if len(exc.args) > 1 else None)
    if isinstance(raw, str) and raw.startswith("0x") and len(raw) >= 10:
        for item in abi:
            if item.get("type") == "error":
                signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                if keccak(text=signature)[:4].hex() == raw[2:10]:
                    return item["name"]
    return str(exc)


def send_as_sequencer(l1: Any, abi: list[dict[str, Any]], key: str, call: Any, value: int = 0) -> dict[str, Any]:
    """Send `call` from the sequencer whose key is `key`; its receipt, or a ClickException saying why not."""
    sender = Account.from_key(key).address
    try:
        gas = call.estimate_gas({"from": sender, "value": value}, "pending")
    except Exception as exc:
        raise click.ClickException(f"refused by L1: {revert_name(abi, exc)}") from exc
    for attempt in range(NONCE_ATTEMPTS):
        tx = call.build_transaction({"from": sender, "value": value, "gas": max(gas * 2, gas + GAS_HEADROOM),
                                     "nonce": l1.eth.get_transaction_count(sender, "pending")})
        try:
            tx_hash = l1.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction)
            break
        except ValueError as exc:
            retry = "nonce" in str(exc).lower() or "underpriced" in str(exc).lower()
            if not retry or attempt == NONCE_ATTEMPTS - 1:
                raise click.ClickException(f"L1 refused the transaction: {exc}") from exc
            time.sleep(0.5)  # back off: the node's own transaction with that nonce is being mined
    receipt = l1.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_SECONDS)
    if receipt["status"] != 1:
        raise click.ClickException(f"transaction {receipt['transactionHash'].to_0x_hex()} reverted in L1 block "
                                   f"{receipt['blockNumber']} (the L1 state changed after it was checked: "
                                   "look again and retry)")
    return dict(receipt)
