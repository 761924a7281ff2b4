"""L1 access for nodes: heads, block hashes, batches in the Inbox, posting batches.

One object per node; all calls are async (web3.py AsyncWeb3 over HTTP).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientTimeout
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound

from toolkit.forced_queue import ForcedEntry
from toolkit.l1.artifacts import load_artifact
from toolkit.l1.blocks import L1Block, Schedule
from toolkit.shared_batch import NamespaceError, NamespaceRead, Segment, select_namespace

log = logging.getLogger(__name__)

__all__ = ["BatchRejected", "L1Block", "L1Client", "PostedBatch", "Schedule"]


@dataclass(frozen=True)
class PostedBatch:
    """A BatchPosted event with the batch data read back from its L1 transaction's calldata."""

    chain_id: int
    batch_index: int
    sender: str
    first_l2_block: int
    last_l2_block: int
    data: bytes | None  # None when the calldata could not be read or does not match the hash
    problem: str | None
    l1_block: int
    l1_tx_hash: bytes
    log_index: int


VANISHED_AFTER_CHECKS = 3  # a sent transaction L1 knows neither mined nor pending this many polls in a row

REASONS = {0: "rotation", 1: "auction", 2: "slashed", 3: "unstaked", 4: "timeout", 5: "admin"}


class BatchRejected(Exception):
    """L1 refused a batch: the revert reason (a custom error name) is in the message."""


class L1Client:
    """Raw L1 reads and writes for one devnet; `registry_contract` names the mode's registry ABI."""

    def __init__(self, rpc_url: str, inbox_address: str, registry_address: str, registry_contract: str) -> None:
        self.rpc_url = rpc_url
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": ClientTimeout(total=10)}))
        self.inbox = self.w3.eth.contract(
            address=to_checksum_address(inbox_address), abi=load_artifact("Inbox")["abi"]
        )
        self.registry = self.w3.eth.contract(
            address=to_checksum_address(registry_address), abi=load_artifact(registry_contract)["abi"]
        )
        self._hash_cache: dict[int, L1Block] = {}
        # one key may send for several chains from one process: nonce read + send, one at a time
        self._send_locks: dict[str, asyncio.Lock] = {}

    def _send_lock(self, sender: str) -> asyncio.Lock:
        return self._send_locks.setdefault(sender.lower(), asyncio.Lock())

    async def sequencer_changes(self, chain_id: int, first_block: int, last_block: int) -> list[dict[str, Any]]:
        events = await self.registry.events.SequencerChanged.get_logs(
            argument_filters={"chainId": chain_id}, from_block=first_block, to_block=last_block
        )
        return [
            {
                "chainId": int(e["args"]["chainId"]),
                "epoch": int(e["args"]["epoch"]),
                "previous": e["args"]["previous"],
                "next": e["args"]["next"],
                "reason": REASONS.get(int(e["args"]["reason"]), str(e["args"]["reason"])),
                "l1Block": int(e["blockNumber"]),
                "logIndex": int(e["logIndex"]),
                "l1TxHash": "0x" + bytes(e["transactionHash"]).hex(),
            }
            for e in sorted(events, key=lambda e: (e["blockNumber"], e["logIndex"]))
        ]

    async def send_registry_call(self, private_key: str, function: str, *args: Any, value: int = 0) -> bytes:
        """Send a registry transaction (syncEpoch, reportTimeout, commitBid with `value`, ...); raises
        BatchRejected on a revert."""
        sender = Account.from_key(private_key).address
        call = getattr(self.registry.functions, function)(*args)
        try:
            # against the pending block: the one this transaction will be mined in
            gas = await call.estimate_gas({"from": sender, "value": value}, "pending")
        except (ContractCustomError, ContractLogicError) as exc:
            raise BatchRejected(self.explain_revert(exc)) from exc
        async with self._send_lock(sender):
            tx = await call.build_transaction(
                {"from": sender, "nonce": await self.w3.eth.get_transaction_count(sender, "pending"),
                 "gas": gas + gas // 5, "chainId": await self.w3.eth.chain_id, "value": value}
            )
            tx_hash = await self.w3.eth.send_raw_transaction(Account.sign_transaction(tx, private_key).raw_transaction)
        receipt = await self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.2)
        if receipt["status"] != 1:
            raise BatchRejected(f"{function} transaction 0x{bytes(tx_hash).hex()} reverted")
        return bytes(tx_hash)

    async def head(self) -> L1Block:
        return self._to_block(await self.w3.eth.get_block("latest"))

    async def finalized_number(self) -> int:
        return int((await self.w3.eth.get_block("finalized"))["number"])

    async def block(self, number: int) -> L1Block:
        cached = self._hash_cache.get(number)
        if cached is not None:
            return cached
        block = self._to_block(await self.w3.eth.get_block(number))
        self._hash_cache[number] = block
        return block

    async def canonical_hash(self, number: int) -> bytes | None:
        """The hash L1 has at `number` now (never cached: this is how a reorg is noticed), None if none."""
        raw = await self.w3.provider.make_request("eth_getBlockByNumber", [hex(number), False])
        if "error" in raw:
            raise RuntimeError(f"eth_getBlockByNumber({number}): {raw['error']}")
        block = raw.get("result")
        return bytes.fromhex(block["hash"][2:]) if block else None

    def forget_from(self, number: int) -> None:
        """Drop cached L1 blocks at or above `number` (after an L1 reorg)."""
        for cached in [n for n in self._hash_cache if n >= number]:
            del self._hash_cache[cached]

    @staticmethod
    def _to_block(raw: Any) -> L1Block:
        return L1Block(number=int(raw["number"]), hash=bytes(raw["hash"]), timestamp=int(raw["timestamp"]),
                       parent_hash=bytes(raw["parentHash"]))

    async def sequencer_for(self, chain_id: int, l1_block: int) -> str:
        return await self.registry.functions.sequencerFor(chain_id, l1_block).call()

    async def batches(self, chain_id: int, first_block: int, last_block: int) -> list[PostedBatch]:
        """BatchPosted events of a chain in an L1 block range, with their data, in L1 order."""
        events = await self.inbox.events.BatchPosted.get_logs(
            argument_filters={"chainId": chain_id}, from_block=first_block, to_block=last_block
        )
        events = sorted(events, key=lambda e: (e["blockNumber"], e["logIndex"]))
        return [await self._with_data(event) for event in events]

    async def forced_entries(self, chain_id: int, first_block: int, last_block: int) -> list[ForcedEntry]:
        """ForcedTxQueued events of a chain in an L1 block range, in queue order."""
        events = await self.inbox.events.ForcedTxQueued.get_logs(
            argument_filters={"chainId": chain_id}, from_block=first_block, to_block=last_block
        )
        entries = [
            ForcedEntry(
                index=int(e["args"]["index"]),
                tx_hash=bytes(e["args"]["txHash"]),
                sender=e["args"]["sender"],
                l1_block=int(e["blockNumber"]),
                deadline=int(e["args"]["deadline"]),
                raw=bytes(e["args"]["signedTx"]),
            )
            for e in events
        ]
        return sorted(entries, key=lambda entry: entry.index)

    async def _with_data(self, event: Any) -> PostedBatch:
        args = event["args"]
        data, problem = None, None
        tx = await self.w3.eth.get_transaction(event["transactionHash"])
        try:
            function, inputs = self.inbox.decode_function_input(tx["input"])
            if function.fn_name == "postBatch":
                data = bytes(inputs["data"])
            elif function.fn_name == "postSharedBatch":
                data = self.namespace_of(inputs, int(args["chainId"])).data
            else:
                problem = f"posted through {function.fn_name}, not postBatch"
            if data is not None and keccak(data) != bytes(args["dataHash"]):
                data, problem = None, "calldata does not match the event's dataHash (posted through a contract?)"
        except (ValueError, NamespaceError) as exc:
            data, problem = None, f"calldata is not a direct Inbox call: {exc}"
        return PostedBatch(
            chain_id=int(args["chainId"]),
            batch_index=int(args["batchIndex"]),
            sender=args["sender"],
            first_l2_block=int(args["firstL2Block"]),
            last_l2_block=int(args["lastL2Block"]),
            data=data,
            problem=problem,
            l1_block=int(event["blockNumber"]),
            l1_tx_hash=bytes(event["transactionHash"]),
            log_index=int(event["logIndex"]),
        )

    @staticmethod
    def namespace_of(inputs: dict[str, Any], chain_id: int) -> NamespaceRead:
        """The derivation stage of mode shared: our chain's segment of decoded postSharedBatch inputs."""
        segments = [
            Segment(int(s["chainId"]), int(s["firstL2Block"]), int(s["lastL2Block"]), int(s["forcedEnd"]),
                    bytes(s["dataHash"]))
            if isinstance(s, Mapping) else Segment(int(s[0]), int(s[1]), int(s[2]), int(s[3]), bytes(s[4]))
            for s in inputs["segments"]
        ]
        return select_namespace(segments, [bytes(d) for d in inputs["datas"]], chain_id)

    async def shared_batches(self, first_block: int, last_block: int) -> list[dict[str, Any]]:
        """SharedBatchPosted events in an L1 block range (index, sender, segmentsHash, L1 tx), in L1 order."""
        events = await self.inbox.events.SharedBatchPosted.get_logs(from_block=first_block, to_block=last_block)
        return [
            {"sharedIndex": int(e["args"]["sharedIndex"]), "sender": e["args"]["sender"],
             "segmentsHash": bytes(e["args"]["segmentsHash"]), "segmentCount": int(e["args"]["segmentCount"]),
             "l1Block": int(e["blockNumber"]), "l1TxHash": bytes(e["transactionHash"])}
            for e in sorted(events, key=lambda e: (e["blockNumber"], e["logIndex"]))
        ]

    async def read_namespace(self, l1_tx_hash: bytes, chain_id: int) -> NamespaceRead:
        """One chain's namespace of the shared batch posted in L1 transaction `l1_tx_hash`."""
        tx = await self.w3.eth.get_transaction(l1_tx_hash)
        function, inputs = self.inbox.decode_function_input(tx["input"])
        if function.fn_name != "postSharedBatch":
            raise NamespaceError(f"L1 transaction 0x{l1_tx_hash.hex()} calls {function.fn_name}, not postSharedBatch")
        return self.namespace_of(inputs, chain_id)

    async def post_shared_batch(
        self, private_key: str, segments: list[Segment], datas: list[bytes], attestations: bytes,
        wait_seconds: float = 30.0,
    ) -> tuple[bytes, int, int]:
        """Send postSharedBatch and wait for it; returns (tx hash, L1 block, gas used). Raises BatchRejected."""
        call = self.inbox.functions.postSharedBatch([s.as_tuple() for s in segments], datas, attestations)
        receipt = await self._send(private_key, call, "postSharedBatch", wait_seconds)
        return bytes(receipt["transactionHash"]), int(receipt["blockNumber"]), int(receipt["gasUsed"])

    async def _send(self, private_key: str, call: Any, what: str, wait_seconds: float) -> Any:
        sender = Account.from_key(private_key).address
        try:
            gas = await call.estimate_gas({"from": sender}, "pending")
        except (ContractCustomError, ContractLogicError) as exc:
            raise BatchRejected(self.explain_revert(exc)) from exc
        async with self._send_lock(sender):
            tx = await call.build_transaction(
                {"from": sender, "nonce": await self.w3.eth.get_transaction_count(sender, "pending"),
                 "gas": gas + gas // 5, "chainId": await self.w3.eth.chain_id}
            )
            tx_hash = await self.w3.eth.send_raw_transaction(Account.sign_transaction(tx, private_key).raw_transaction)
        receipt = await self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=wait_seconds, poll_latency=0.2)
        if receipt["status"] != 1:
            raise BatchRejected(f"{what} transaction 0x{bytes(tx_hash).hex()} reverted on L1")
        return receipt

    async def post_batch(
        self,
        private_key: str,
        chain_id: int,
        first: int,
        last: int,
        forced_end: int,
        data: bytes,
        attestations: bytes = b"",
        wait_seconds: float = 30.0,
    ) -> tuple[bytes, int]:
        """Send postBatch and wait for it to be mined; returns (tx hash, L1 block). Raises BatchRejected."""
        sender = Account.from_key(private_key).address
        call = self.inbox.functions.postBatch(chain_id, first, last, forced_end, data, attestations)
        try:
            # against the pending block: the one this transaction will be mined in
            gas = await call.estimate_gas({"from": sender}, "pending")
        except (ContractCustomError, ContractLogicError) as exc:
            raise BatchRejected(self.explain_revert(exc)) from exc
        async with self._send_lock(sender):
            tx = await call.build_transaction(
                {
                    "from": sender,
                    "nonce": await self.w3.eth.get_transaction_count(sender, "pending"),
                    "gas": gas + gas // 5,
                    "chainId": await self.w3.eth.chain_id,
                }
            )
            signed = Account.sign_transaction(tx, private_key)
            tx_hash = await self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = await self._wait_mined(bytes(tx_hash), wait_seconds)
        if receipt["status"] != 1:
            raise BatchRejected(f"postBatch transaction 0x{bytes(tx_hash).hex()} reverted on L1")
        return bytes(tx_hash), int(receipt["blockNumber"])

    async def _wait_mined(self, tx_hash: bytes, wait_seconds: float) -> Any:
        """The receipt once mined; BatchRejected as soon as L1 no longer knows the transaction at all
        (an L1 reorg dropped it from the pool), rather than waiting out the whole timeout."""
        deadline = time.monotonic() + wait_seconds
        missing = 0
        while True:
            try:
                return await self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                pass
            try:
                await self.w3.eth.get_transaction(tx_hash)
                missing = 0
            except TransactionNotFound:
                missing += 1
                if missing >= VANISHED_AFTER_CHECKS:
                    raise BatchRejected(f"transaction 0x{tx_hash.hex()} vanished from L1 before it was mined "
                                        "(an L1 reorg?)") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"transaction 0x{tx_hash.hex()} not mined after {wait_seconds}s")
            await asyncio.sleep(0.2)

    def explain_revert(self, exc: Exception) -> str:
        """Name the custom error of a revert when it is one of ours."""
        raw = getattr(exc, "data", None) or (exc.args[1] if len(exc.args) > 1 else None)
        if isinstance(raw, str) and raw.startswith("0x") and len(raw) >= 10:
            for contract in (self.inbox, self.registry):
                for item in contract.abi:
                    if item.get("type") != "error":
                        continue
                    signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                    if keccak(text=signature)[:4].hex() == raw[2:10]:
                        return f"{item['name']} (0x{raw[2:]})"
        return str(exc)


async def wait_for_l1(rpc_url: str, deadline_seconds: float = 20.0) -> None:
    """Poll an L1 RPC until it answers eth_blockNumber, or raise TimeoutError."""
    w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": ClientTimeout(total=2)}))
    deadline = time.monotonic() + deadline_seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            await w3.eth.block_number
            return
        except Exception as exc:  # connection refused while it starts
            last_error = exc
            await asyncio.sleep(0.1)
    raise TimeoutError(f"L1 at {rpc_url} did not answer within {deadline_seconds}s: {last_error}")
