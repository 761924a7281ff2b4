"""Small JSON-RPC reads tests need in their raw form (rollup fields, hex receipts)."""

from __future__ import annotations

from typing import Any

from web3 import Web3


def safe_number(w3: Web3) -> int:
    """The node's safe L2 head number (`rollup_syncStatus`)."""
    return int(w3.provider.make_request("rollup_syncStatus", [])["result"]["safeL2"]["number"])


def raw_receipt(w3: Web3, tx_hash: str) -> dict[str, Any] | None:
    """The receipt as the node sends it (hex fields), or None while the transaction is not in a block."""
    return w3.provider.make_request("eth_getTransactionReceipt", [tx_hash]).get("result")
