"""Methods client developers use to look inside the chain and the mempool: eth_getProof,
eth_createAccessList, eth_getRawTransactionByHash, eth_coinbase, txpool_content, txpool_status."""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth_utils import to_checksum_address

from toolkit.l2.calls import CallRequest, StateOverrides, create_access_list
from toolkit.l2.executor import CallRefused
from toolkit.l2.proofs import account_proof
from toolkit.rpc import params as p
from toolkit.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from toolkit.rpc.formatters import data, format_transaction, qty
from toolkit.rpc.offload import off_loop
from toolkit.rpc.server import Handler

MAX_PROOF_SLOTS = 1024


def raw_transaction(tx: SignedTransactionAPI) -> bytes:
    """A signed transaction as it is sent (typed envelope or legacy RLP)."""
    return bytes(tx.encode())


class InspectApi:
    def __init__(self, eth: Any) -> None:
        self.eth = eth  # the node's EthApi: block resolution, executor, node
        self.executor = eth.executor

    def methods(self) -> dict[str, Handler]:
        return {
            "eth_coinbase": self.eth_coinbase,
            "eth_getRawTransactionByHash": self.eth_getRawTransactionByHash,
            "eth_getProof": self.eth_getProof,
            "eth_createAccessList": self.eth_createAccessList,
            "txpool_content": self.txpool_content,
            "txpool_status": self.txpool_status,
        }

    async def eth_coinbase(self, params: list[Any]) -> str:
        return to_checksum_address(self.executor.config.fee_recipient)

    async def eth_getRawTransactionByHash(self, params: list[Any]) -> str | None:
        tx_hash = p.hex_bytes(p.arg(params, 0, "hash"), "hash", 32)
        location = self.executor.transaction_location(tx_hash)
        if location is not None:
            number, index = location
            block = self.executor.block_by_hash(self.executor.header_by_number(number).hash)
            return data(raw_transaction(block.transactions[index]))
        pending = self.eth.node.pending_transaction(tx_hash)
        return data(raw_transaction(pending)) if pending is not None else None

    async def eth_getProof(self, params: list[Any]) -> dict[str, Any]:
        p.expect_count(params, 3)
        account = p.address(p.arg(params, 0, "address"))
        keys = p.arg(params, 1, "storageKeys")
        if not isinstance(keys, list) or len(keys) > MAX_PROOF_SLOTS:
            raise invalid_params(f"storageKeys must be an array of at most {MAX_PROOF_SLOTS} slots")
        slots = [int.from_bytes(p.hex_bytes(k, "storage key", 32), "big") for k in keys]
        header = self.eth.resolve_header(p.arg(params, 2, "block", "latest"))
        proof = account_proof(self.executor.chain.chaindb.db, header, account, slots)
        return {
            "address": account,
            "balance": qty(proof["balance"]),
            "nonce": qty(proof["nonce"]),
            "codeHash": data(proof["codeHash"]),
            "storageHash": data(proof["storageHash"]),
            "accountProof": [data(node) for node in proof["accountProof"]],
            "storageProof": [
                {"key": keys[i], "value": qty(entry["value"]), "proof": [data(node) for node in entry["proof"]]}
                for i, entry in enumerate(proof["storageProof"])
            ],
        }

    async def eth_createAccessList(self, params: list[Any]) -> dict[str, Any]:
        p.expect_count(params, 3)
        call = p.call_object(p.arg(params, 0, "transaction"))
        header = self.eth.resolve_header(p.arg(params, 1, "block", "latest"))
        overrides = p.state_overrides(p.arg(params, 2, "stateOverrides", None))
        try:
            entries, gas_used, error = await off_loop(_access_list, self.executor.chain, call, header, overrides)
        except CallRefused as exc:
            raise RpcError(SERVER_ERROR, str(exc)) from exc
        result: dict[str, Any] = {
            "accessList": [{"address": address, "storageKeys": [f"0x{slot:064x}" for slot in slots]}
                           for address, slots in entries],
            "gasUsed": qty(gas_used),
        }
        if error is not None:
            result["error"] = error
        return result

    def _pool(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """geth's split: pending (runs from the state nonce without a gap) and queued (the rest)."""
        pending: dict[str, dict[str, Any]] = {}
        queued: dict[str, dict[str, Any]] = {}
        head = self.executor.head
        for sender, transactions in self.eth.node.pool_content().items():
            expected = self.executor.nonce(sender, head)
            for tx in sorted(transactions, key=lambda t: t.nonce):
                target = pending if tx.nonce == expected else queued
                if tx.nonce == expected:
                    expected += 1
                target.setdefault(to_checksum_address(sender), {})[str(tx.nonce)] = format_transaction(tx, None, None)
        return pending, queued

    async def txpool_content(self, params: list[Any]) -> dict[str, Any]:
        pending, queued = self._pool()
        return {"pending": pending, "queued": queued}

    async def txpool_status(self, params: list[Any]) -> dict[str, str]:
        pending, queued = self._pool()
        return {"pending": qty(sum(map(len, pending.values()))), "queued": qty(sum(map(len, queued.values())))}


def _access_list(chain: Any, call: CallRequest, header: BlockHeaderAPI, overrides: StateOverrides) -> Any:
    """create_access_list on a VM of its own (runs in a call worker thread)."""
    return create_access_list(chain.get_vm(header), call, overrides, header.gas_limit)
