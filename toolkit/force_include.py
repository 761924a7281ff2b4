"""Force an L2 transaction in through L1: submit it to the Inbox, then follow it onto the L2.

    handle = force_include(l1_rpc, inbox, 901, raw_tx, l1_key)
    receipt = handle.wait_included(l2_rpc)            # unsafe: a node has it in a block
    receipt = handle.wait_included(l2_rpc, safe=True)  # derived from L1
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from toolkit.l1.artifacts import load_artifact

POLL_SECONDS = 0.2


class ForceIncludeError(RuntimeError):
    """L1 refused the entry, or it was skipped on L2 (the message says why)."""


@dataclass(frozen=True)
class ForcedTx:
    chain_id: int
    index: int
    deadline: int  # L1 block
    tx_hash: str  # L2 transaction hash (keccak of the raw bytes)
    l1_tx_hash: str
    l1_block: int

    def status(self, l2_rpc: str) -> dict[str, Any] | None:
        """This entry as `rollup_forcedQueue` on `l2_rpc` describes it (None: node has not seen it yet)."""
        for entry in _rpc(l2_rpc, "rollup_forcedQueue", []):
            if entry["index"] == self.index:
                return entry
        return None

    def wait_included(self, l2_rpc: str, *, safe: bool = False, timeout: float = 120.0) -> dict[str, Any]:
        """Poll until the entry is in an L2 block (derived from L1 if `safe`); return its receipt."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.status(l2_rpc)
            if last is not None and last["status"] == "skipped":
                raise ForceIncludeError(f"forced entry {self.index} was skipped on L2: {last.get('reason')}")
            if last is not None and last["status"] == "included" and (last["safe"] or not safe):
                receipt = _rpc(l2_rpc, "eth_getTransactionReceipt", [self.tx_hash])
                if receipt is not None:
                    return receipt
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"forced entry {self.index} not {'safe' if safe else 'included'} after {timeout}s: {last}")


def force_include(
    l1_rpc: str, inbox_address: str, chain_id: int, raw_tx: bytes, l1_private_key: str, fee: int | None = None
) -> ForcedTx:
    """Queue `raw_tx` in the Inbox's forced queue, paying the fee from `l1_private_key`."""
    w3 = Web3(HTTPProvider(l1_rpc, request_kwargs={"timeout": 10}))
    inbox = w3.eth.contract(address=Web3.to_checksum_address(inbox_address), abi=load_artifact("Inbox")["abi"])
    sender = Account.from_key(l1_private_key).address
    value = inbox.functions.forcedInclusionFee().call() if fee is None else fee
    call = inbox.functions.forceInclude(chain_id, raw_tx)
    try:
        gas = call.estimate_gas({"from": sender, "value": value})
    except (ContractCustomError, ContractLogicError) as exc:
        raise ForceIncludeError(f"L1 refused the forced transaction: {_error_name(inbox, exc)}") from exc
    tx = call.build_transaction(
        {"from": sender, "value": value, "gas": gas + gas // 5, "nonce": w3.eth.get_transaction_count(sender, "pending")}
    )
    l1_hash = w3.eth.send_raw_transaction(Account.sign_transaction(tx, l1_private_key).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(l1_hash, timeout=60, poll_latency=POLL_SECONDS)
    if receipt["status"] != 1:
        raise ForceIncludeError(f"forceInclude transaction {l1_hash.to_0x_hex()} reverted")
    event = inbox.events.ForcedTxQueued().process_receipt(receipt)[0]["args"]
    return ForcedTx(
        chain_id=chain_id,
        index=int(event["index"]),
        deadline=int(event["deadline"]),
        tx_hash="0x" + keccak(raw_tx).hex(),
        l1_tx_hash=l1_hash.to_0x_hex(),
        l1_block=int(receipt["blockNumber"]),
    )


def _error_name(contract: Any, exc: Exception) -> str:
    data = getattr(exc, "data", None)
    if isinstance(data, str):
        for item in contract.abi:
            if item.get("type") == "error":
                signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                if data[2:10] == Web3.keccak(text=signature)[:4].hex():
                    return f"{item['name']} ({data})"
    return str(exc)


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise ForceIncludeError(f"{method} on {url}: {reply['error']['message']}")
    return reply["result"]
