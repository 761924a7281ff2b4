"""Real L1 reorgs on Anvil, checked rather than assumed.

`reorg_l1(rpc, depth)` pauses Anvil's interval mining, rolls the newest `depth` blocks back
(`anvil_rollback`: their transactions vanish), mines `depth + 1` new blocks under another coinbase
(so no new block can have an old block's hash) and resumes mining. Transactions of the orphaned
blocks that `keep` accepts are sent again after `delay` empty blocks: they move to another L1
block instead of vanishing. It then checks that L1 really changed at every orphaned height
(Anvil's own `anvil_reorg` has open reports of reorgs that keep block hashes) and raises
`L1ReorgFailed` otherwise.

`paused_l1(rpc)` holds L1 still (no interval mining) while a test lines up what a reorg will orphan;
`mine(rpc, n)` mines blocks on demand meanwhile.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


class L1ReorgFailed(RuntimeError):
    """L1 did not reorg as asked (a block hash stayed, a transaction did not move, an RPC refused)."""


@dataclass(frozen=True)
class L1Reorg:
    fork_point: int  # the newest L1 block both branches share
    orphaned: dict[int, str]  # L1 block number -> hash on the old branch
    replaced: dict[int, str]  # the same numbers -> hash on the new branch
    dropped: tuple[str, ...]  # L1 transactions of the old branch that are gone
    moved: dict[str, int]  # L1 transaction -> its block on the new branch
    head: int


def l1_rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise L1ReorgFailed(f"{method}: {reply['error'].get('message')}")
    return reply["result"]


def head_number(url: str) -> int:
    return int(l1_rpc(url, "eth_blockNumber"), 16)


def block_hash(url: str, number: int) -> str | None:
    block = l1_rpc(url, "eth_getBlockByNumber", [hex(number), False])
    return block["hash"] if block else None


def mine(url: str, count: int = 1) -> int:
    """Mine `count` blocks now; returns the new head."""
    l1_rpc(url, "anvil_mine", [hex(count)])
    return head_number(url)


@contextmanager
def paused_l1(url: str, block_time: float = 1.0) -> Iterator[None]:
    """No interval mining inside the block (transactions wait in the pool); resumed on exit."""
    l1_rpc(url, "evm_setIntervalMining", [0])
    try:
        yield
    finally:
        l1_rpc(url, "evm_setIntervalMining", [max(1, round(block_time))])


def reorg_l1(
    url: str,
    depth: int,
    *,
    keep: Callable[[dict[str, Any]], bool] = lambda tx: False,
    delay: int = 0,
    block_time: float = 1.0,
) -> L1Reorg:
    """Replace the newest `depth` L1 blocks with `depth + 1` new ones (see the module docstring)."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    if not 0 <= delay <= depth:
        raise ValueError("delay must be between 0 and depth")
    with paused_l1(url, block_time):
        head = head_number(url)
        if depth > head:
            raise L1ReorgFailed(f"cannot reorg {depth} blocks: L1 head is {head}")
        fork_point = head - depth
        orphaned: dict[int, str] = {}
        kept: list[tuple[str, str]] = []  # (tx hash, raw)
        dropped: list[str] = []
        for number in range(fork_point + 1, head + 1):
            block = l1_rpc(url, "eth_getBlockByNumber", [hex(number), True])
            orphaned[number] = block["hash"]
            for tx in block["transactions"]:
                if keep(tx):
                    kept.append((tx["hash"], l1_rpc(url, "eth_getRawTransactionByHash", [tx["hash"]])))
                else:
                    dropped.append(tx["hash"])
        coinbase = l1_rpc(url, "eth_coinbase")
        l1_rpc(url, "anvil_rollback", [depth])
        l1_rpc(url, "anvil_setCoinbase", ["0x" + os.urandom(20).hex()])
        try:
            if delay:
                mine(url, delay)
            for _tx_hash, raw in kept:
                l1_rpc(url, "eth_sendRawTransaction", [raw])
            mine(url, depth + 1 - delay)
        finally:
            l1_rpc(url, "anvil_setCoinbase", [coinbase])
        replaced = {number: block_hash(url, number) or "" for number in orphaned}
        moved: dict[str, int] = {}
        for tx_hash, _raw in kept:
            receipt = l1_rpc(url, "eth_getTransactionReceipt", [tx_hash])
            if receipt is None:
                raise L1ReorgFailed(f"kept transaction {tx_hash} was not mined again")
            moved[tx_hash] = int(receipt["blockNumber"], 16)
        for tx_hash in dropped:
            if l1_rpc(url, "eth_getTransactionReceipt", [tx_hash]) is not None:
                raise L1ReorgFailed(f"dropped transaction {tx_hash} is still on L1")
        unchanged = [number for number in orphaned if replaced[number] == orphaned[number]]
        if unchanged:
            raise L1ReorgFailed(f"L1 blocks {unchanged} kept their hashes: the reorg did not happen")
        return L1Reorg(fork_point, orphaned, replaced, tuple(dropped), moved, head_number(url))
