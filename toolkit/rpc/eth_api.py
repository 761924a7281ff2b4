"""The standard eth_/net_/web3_ methods of one L2 node, over its executor and mempool."""

from __future__ import annotations

from typing import Any, Protocol

from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth_utils import keccak

from toolkit.l2.executor import CallRefused, CallReverted, L2Executor
from toolkit.l2.transactions import InvalidTransaction
from toolkit.rpc import params as p
from toolkit.rpc.errors import (
    EXECUTION_REVERTED,
    INVALID_PARAMS,
    LIMIT_EXCEEDED,
    SERVER_ERROR,
    RpcError,
    invalid_params,
)
from toolkit.rpc.events import ChainEvents
from toolkit.rpc.filters import FilterManager
from toolkit.rpc.formatters import data, format_block, format_logs, format_receipt, format_transaction, qty
from toolkit.rpc.log_filter import LogCriteria
from toolkit.rpc.offload import off_loop
from toolkit.rpc.server import Handler

CLIENT_VERSION = "rollup-devnet/0.1.0/python"
SUGGESTED_TIP = 1_000_000_000
MAX_LOG_RANGE = 10_000
LOGS_OFF_LOOP_BLOCKS = 256  # a longer eth_getLogs range is read in a worker: the node builds and answers meanwhile
MAX_FEE_HISTORY = 1024


class NodeView(Protocol):
    """What the RPC needs from a node."""

    executor: L2Executor
    events: ChainEvents

    @property
    def safe_number(self) -> int: ...

    @property
    def finalized_number(self) -> int: ...

    async def submit_transaction(self, raw: bytes) -> bytes: ...

    def pending_nonce(self, address: str) -> int: ...

    def pending_transaction(self, tx_hash: bytes) -> SignedTransactionAPI | None: ...


class EthApi:
    def __init__(self, node: NodeView) -> None:
        self.node = node
        self.executor = node.executor
        self.filters = FilterManager(node.events)

    def methods(self) -> dict[str, Handler]:
        return {
            "web3_clientVersion": self.web3_clientVersion,
            "web3_sha3": self.web3_sha3,
            "net_version": self.net_version,
            "net_listening": self.net_listening,
            "net_peerCount": self.net_peerCount,
            "eth_chainId": self.eth_chainId,
            "eth_syncing": self.eth_syncing,
            "eth_blockNumber": self.eth_blockNumber,
            "eth_getBalance": self.eth_getBalance,
            "eth_getTransactionCount": self.eth_getTransactionCount,
            "eth_getCode": self.eth_getCode,
            "eth_getStorageAt": self.eth_getStorageAt,
            "eth_call": self.eth_call,
            "eth_estimateGas": self.eth_estimateGas,
            "eth_gasPrice": self.eth_gasPrice,
            "eth_maxPriorityFeePerGas": self.eth_maxPriorityFeePerGas,
            "eth_blobBaseFee": self.eth_blobBaseFee,
            "eth_feeHistory": self.eth_feeHistory,
            "eth_sendRawTransaction": self.eth_sendRawTransaction,
            "eth_getTransactionByHash": self.eth_getTransactionByHash,
            "eth_getTransactionReceipt": self.eth_getTransactionReceipt,
            "eth_getBlockByNumber": self.eth_getBlockByNumber,
            "eth_getBlockByHash": self.eth_getBlockByHash,
            "eth_getBlockReceipts": self.eth_getBlockReceipts,
            "eth_getBlockTransactionCountByNumber": self.eth_getBlockTransactionCountByNumber,
            "eth_getBlockTransactionCountByHash": self.eth_getBlockTransactionCountByHash,
            "eth_getTransactionByBlockNumberAndIndex": self.eth_getTransactionByBlockNumberAndIndex,
            "eth_getTransactionByBlockHashAndIndex": self.eth_getTransactionByBlockHashAndIndex,
            "eth_getUncleCountByBlockNumber": self.eth_getUncleCount,
            "eth_getUncleCountByBlockHash": self.eth_getUncleCount,
            "eth_getLogs": self.eth_getLogs,
            "eth_newFilter": self.eth_newFilter,
            "eth_newBlockFilter": self.eth_newBlockFilter,
            "eth_newPendingTransactionFilter": self.eth_newPendingTransactionFilter,
            "eth_getFilterChanges": self.eth_getFilterChanges,
            "eth_getFilterLogs": self.eth_getFilterLogs,
            "eth_uninstallFilter": self.eth_uninstallFilter,
        }

    # ----- block resolution -----
    def resolve_header(self, tag: Any) -> BlockHeaderAPI:
        """A block tag, number or EIP-1898 object to a canonical header; unknown blocks are errors."""
        if isinstance(tag, dict):
            if "blockHash" in tag:
                header = self.executor.header_by_hash(p.hex_bytes(tag["blockHash"], "blockHash", 32))
                if header is None:
                    raise RpcError(SERVER_ERROR, "header not found")
                if tag.get("requireCanonical") and not self.executor.is_canonical(header.hash):
                    raise RpcError(SERVER_ERROR, "block hash is not canonical")
                return header
            if "blockNumber" in tag:
                return self.resolve_header(tag["blockNumber"])
            raise invalid_params("block object needs blockHash or blockNumber")
        number = self._tag_number(tag)
        if number > self.executor.head_number:
            raise RpcError(SERVER_ERROR, "header not found")
        return self.executor.header_by_number(number)

    def _tag_number(self, tag: Any) -> int:
        if tag in (None, "latest", "pending"):
            return self.executor.head_number
        if tag == "earliest":
            return 0
        if tag == "safe":
            return self.node.safe_number
        if tag == "finalized":
            return self.node.finalized_number
        if isinstance(tag, str) and not tag.startswith("0x"):
            raise invalid_params(f"unknown block tag {tag!r}")
        return p.quantity(tag, "block number")

    # ----- simple -----
    async def web3_clientVersion(self, params: list[Any]) -> str:
        return CLIENT_VERSION

    async def web3_sha3(self, params: list[Any]) -> str:
        return data(keccak(p.hex_bytes(p.arg(params, 0, "data"))))

    async def net_version(self, params: list[Any]) -> str:
        return str(self.executor.config.chain_id)

    async def net_listening(self, params: list[Any]) -> bool:
        return True

    async def net_peerCount(self, params: list[Any]) -> str:
        return qty(0)

    async def eth_chainId(self, params: list[Any]) -> str:
        return qty(self.executor.config.chain_id)

    async def eth_syncing(self, params: list[Any]) -> bool:
        return False

    async def eth_blockNumber(self, params: list[Any]) -> str:
        return qty(self.executor.head_number)

    # ----- state -----
    async def eth_getBalance(self, params: list[Any]) -> str:
        p.expect_count(params, 2)
        account = p.address(p.arg(params, 0, "address"))
        return qty(self.executor.balance(account, self.resolve_header(p.arg(params, 1, "block", "latest"))))

    async def eth_getTransactionCount(self, params: list[Any]) -> str:
        p.expect_count(params, 2)
        account = p.address(p.arg(params, 0, "address"))
        tag = p.arg(params, 1, "block", "latest")
        if tag == "pending":
            return qty(self.node.pending_nonce(account))
        return qty(self.executor.nonce(account, self.resolve_header(tag)))

    async def eth_getCode(self, params: list[Any]) -> str:
        p.expect_count(params, 2)
        account = p.address(p.arg(params, 0, "address"))
        return data(self.executor.code(account, self.resolve_header(p.arg(params, 1, "block", "latest"))))

    async def eth_getStorageAt(self, params: list[Any]) -> str:
        p.expect_count(params, 3)
        account = p.address(p.arg(params, 0, "address"))
        slot = p.quantity(p.arg(params, 1, "slot"), "slot") if not _is_word(params[1]) else int(params[1], 16)
        header = self.resolve_header(p.arg(params, 2, "block", "latest"))
        return f"0x{self.executor.storage(account, slot, header):064x}"

    async def eth_call(self, params: list[Any]) -> str:
        p.expect_count(params, 4)
        call = p.call_object(p.arg(params, 0, "transaction"))
        header = self.resolve_header(p.arg(params, 1, "block", "latest"))
        overrides = p.state_overrides(p.arg(params, 2, "stateOverrides", None))
        if p.arg(params, 3, "blockOverrides", None) is not None:
            raise invalid_params("block overrides are not supported")
        try:
            return data(await off_loop(self.executor.call, call, header, overrides))
        except CallReverted as exc:
            raise _revert_error(exc) from exc
        except CallRefused as exc:
            raise RpcError(SERVER_ERROR, str(exc)) from exc

    async def eth_estimateGas(self, params: list[Any]) -> str:
        p.expect_count(params, 3)
        call = p.call_object(p.arg(params, 0, "transaction"))
        header = self.resolve_header(p.arg(params, 1, "block", "latest"))
        overrides = p.state_overrides(p.arg(params, 2, "stateOverrides", None))
        try:
            return qty(await off_loop(self.executor.estimate_gas, call, header, overrides))
        except CallReverted as exc:
            raise _revert_error(exc) from exc
        except CallRefused as exc:
            raise RpcError(SERVER_ERROR, str(exc)) from exc

    # ----- fees -----
    def _next_base_fee(self) -> int:
        return calculate_expected_base_fee_per_gas(self.executor.head)

    async def eth_gasPrice(self, params: list[Any]) -> str:
        return qty(self._next_base_fee() + SUGGESTED_TIP)

    async def eth_maxPriorityFeePerGas(self, params: list[Any]) -> str:
        return qty(SUGGESTED_TIP)

    async def eth_blobBaseFee(self, params: list[Any]) -> str:
        return qty(1)

    async def eth_feeHistory(self, params: list[Any]) -> dict[str, Any]:
        count = min(p.quantity(p.arg(params, 0, "blockCount"), "blockCount"), MAX_FEE_HISTORY)
        newest = self.resolve_header(p.arg(params, 1, "newestBlock")).block_number
        percentiles = p.arg(params, 2, "rewardPercentiles", None)
        if percentiles is not None and (
            not isinstance(percentiles, list)
            or any(not isinstance(x, int | float) or not 0 <= x <= 100 for x in percentiles)
            or percentiles != sorted(percentiles)
        ):
            raise invalid_params("rewardPercentiles must be increasing numbers in [0, 100]")
        oldest = max(0, newest - count + 1)
        headers = [self.executor.header_by_number(n) for n in range(oldest, newest + 1)]
        base_fees = [qty(h.base_fee_per_gas) for h in headers]
        base_fees.append(qty(calculate_expected_base_fee_per_gas(headers[-1])) if headers else qty(0))
        result: dict[str, Any] = {
            "oldestBlock": qty(oldest),
            "baseFeePerGas": base_fees,
            "gasUsedRatio": [h.gas_used / h.gas_limit for h in headers],
            "baseFeePerBlobGas": [qty(1)] * len(base_fees),
            "blobGasUsedRatio": [0.0] * len(headers),
        }
        if percentiles is not None:
            result["reward"] = [self._rewards(h, percentiles) for h in headers]
        return result

    def _rewards(self, header: BlockHeaderAPI, percentiles: list[float]) -> list[str]:
        block = self.executor.block_by_hash(header.hash)
        receipts = self.executor.receipts(header.hash)
        tips: list[tuple[int, int]] = []
        previous = 0
        for tx, receipt in zip(block.transactions, receipts, strict=True):
            fee_cap = int(getattr(tx, "max_fee_per_gas", None) or tx.gas_price)
            tip_cap = int(getattr(tx, "max_priority_fee_per_gas", None) or tx.gas_price)
            tips.append((min(tip_cap, fee_cap - header.base_fee_per_gas), receipt.gas_used - previous))
            previous = receipt.gas_used
        if not tips:
            return [qty(0)] * len(percentiles)
        tips.sort()
        total = sum(gas for _, gas in tips)
        rewards, cumulative, index = [], 0, 0
        for percentile in percentiles:
            threshold = total * percentile / 100
            while index < len(tips) - 1 and cumulative + tips[index][1] < threshold:
                cumulative += tips[index][1]
                index += 1
            rewards.append(qty(max(tips[index][0], 0)))
        return rewards

    # ----- transactions -----
    async def eth_sendRawTransaction(self, params: list[Any]) -> str:
        p.expect_count(params, 1)
        raw = p.hex_bytes(p.arg(params, 0, "transaction"), "transaction")
        try:
            return data(await self.node.submit_transaction(raw))
        except InvalidTransaction as exc:
            raise RpcError(SERVER_ERROR, str(exc)) from exc

    async def eth_getTransactionByHash(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = p.hex_bytes(p.arg(params, 0, "hash"), "hash", 32)
        location = self.executor.transaction_location(tx_hash)
        if location is not None:
            number, index = location
            header = self.executor.header_by_number(number)
            tx = self.executor.block_by_hash(header.hash).transactions[index]
            return format_transaction(tx, header, index)
        pending = self.node.pending_transaction(tx_hash)
        return format_transaction(pending, None, None) if pending is not None else None

    async def eth_getTransactionReceipt(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = p.hex_bytes(p.arg(params, 0, "hash"), "hash", 32)
        location = self.executor.transaction_location(tx_hash)
        if location is None:
            return None
        number, index = location
        header = self.executor.header_by_number(number)
        return format_receipt(self.executor.block_by_hash(header.hash), self.executor.receipts(header.hash), index)

    # ----- blocks -----
    def _header_or_none(self, tag: Any) -> BlockHeaderAPI | None:
        try:
            return self.resolve_header(tag)
        except RpcError as error:
            if error.code == SERVER_ERROR:
                return None
            raise

    def _header_by_hash_param(self, params: list[Any]) -> BlockHeaderAPI | None:
        return self.executor.header_by_hash(p.hex_bytes(p.arg(params, 0, "blockHash"), "blockHash", 32))

    async def eth_getBlockByNumber(self, params: list[Any]) -> dict[str, Any] | None:
        p.expect_count(params, 2)
        header = self._header_or_none(p.arg(params, 0, "block"))
        full = bool(p.arg(params, 1, "fullTransactions", False))
        return format_block(self.executor.block_by_hash(header.hash), full) if header else None

    async def eth_getBlockByHash(self, params: list[Any]) -> dict[str, Any] | None:
        p.expect_count(params, 2)
        header = self._header_by_hash_param(params)
        full = bool(p.arg(params, 1, "fullTransactions", False))
        return format_block(self.executor.block_by_hash(header.hash), full) if header else None

    async def eth_getBlockReceipts(self, params: list[Any]) -> list[dict[str, Any]] | None:
        header = self._header_or_none(p.arg(params, 0, "block"))
        if header is None:
            return None
        block = self.executor.block_by_hash(header.hash)
        receipts = self.executor.receipts(header.hash)
        return [format_receipt(block, receipts, i) for i in range(len(block.transactions))]

    async def eth_getBlockTransactionCountByNumber(self, params: list[Any]) -> str | None:
        header = self._header_or_none(p.arg(params, 0, "block"))
        return qty(len(self.executor.block_by_hash(header.hash).transactions)) if header else None

    async def eth_getBlockTransactionCountByHash(self, params: list[Any]) -> str | None:
        header = self._header_by_hash_param(params)
        return qty(len(self.executor.block_by_hash(header.hash).transactions)) if header else None

    def _tx_at(self, header: BlockHeaderAPI | None, index_param: Any) -> dict[str, Any] | None:
        index = p.quantity(index_param, "index")
        if header is None:
            return None
        transactions = self.executor.block_by_hash(header.hash).transactions
        return format_transaction(transactions[index], header, index) if index < len(transactions) else None

    async def eth_getTransactionByBlockNumberAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        return self._tx_at(self._header_or_none(p.arg(params, 0, "block")), p.arg(params, 1, "index"))

    async def eth_getTransactionByBlockHashAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        return self._tx_at(self._header_by_hash_param(params), p.arg(params, 1, "index"))

    async def eth_getUncleCount(self, params: list[Any]) -> str:
        return qty(0)

    # ----- logs and filters -----
    def logs_in_range(self, first: int, last: int, criteria: LogCriteria) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for number in range(first, last + 1):
            header = self.executor.header_by_number(number)
            found.extend(self.logs_of_block(header, criteria))
        return found

    def logs_of_block(
        self, header: BlockHeaderAPI, criteria: LogCriteria, removed: bool = False
    ) -> list[dict[str, Any]]:
        receipts = self.executor.receipts(header.hash)
        if not any(receipt.logs for receipt in receipts):
            return []
        transactions = self.executor.block_by_hash(header.hash).transactions
        matched: list[dict[str, Any]] = []
        log_index = 0
        for tx_index, (tx, receipt) in enumerate(zip(transactions, receipts, strict=True)):
            formatted = format_logs(receipt, header, tx, tx_index, log_index, removed)
            for log, entry in zip(receipt.logs, formatted, strict=True):
                if criteria.matches(log.address, tuple(log.topics)):
                    matched.append(entry)
            log_index += len(receipt.logs)
        return matched

    def _log_range(self, spec: dict[str, Any], *, strict: bool = False) -> tuple[int, int]:
        """The block range of a log filter; empty (first > last) when it starts past the head.

        `strict` (eth_getLogs) answers as geth: a range reaching past the head is an error, never
        the head's logs again (a client polling from its last block + 1 would see them twice).
        """
        if spec.get("blockHash") is not None:
            if spec.get("fromBlock") is not None or spec.get("toBlock") is not None:
                raise invalid_params("cannot specify both blockHash and fromBlock/toBlock")
            header = self.executor.header_by_hash(p.hex_bytes(spec["blockHash"], "blockHash", 32))
            if header is None:
                raise RpcError(SERVER_ERROR, "unknown block")
            return header.block_number, header.block_number
        from_tag, to_tag = spec.get("fromBlock", "latest"), spec.get("toBlock", "latest")
        first, last = self._tag_number(from_tag), self._tag_number(to_tag)
        head = self.executor.head_number
        if _explicit(from_tag) and _explicit(to_tag) and first > last:
            raise RpcError(SERVER_ERROR, "invalid block range params")
        if strict:
            if last > head:
                raise RpcError(INVALID_PARAMS, "block range extends beyond current head block")
            if first > last:
                raise RpcError(INVALID_PARAMS, "invalid block range params")
        last = min(last, head)
        if first > last:
            return first, last  # nothing yet
        if last - first + 1 > MAX_LOG_RANGE:
            raise RpcError(LIMIT_EXCEEDED, f"query exceeds the limit of {MAX_LOG_RANGE} blocks")
        return first, last

    async def eth_getLogs(self, params: list[Any]) -> list[dict[str, Any]]:
        spec = p.arg(params, 0, "filter")
        if not isinstance(spec, dict):
            raise invalid_params("filter object expected")
        first, last = self._log_range(spec, strict=True)
        criteria = LogCriteria.parse(spec)
        if last - first + 1 <= LOGS_OFF_LOOP_BLOCKS:
            return self.logs_in_range(first, last, criteria)
        try:
            return await off_loop(self.logs_in_range, first, last, criteria)
        except (KeyError, IndexError):  # a reorg dropped blocks of the range meanwhile: read the chain as it is
            first, last = self._log_range(spec, strict=True)
            return self.logs_in_range(first, last, criteria)

    async def eth_newFilter(self, params: list[Any]) -> str:
        spec = p.arg(params, 0, "filter")
        if not isinstance(spec, dict):
            raise invalid_params("filter object expected")
        criteria = LogCriteria.parse(spec)
        self._log_range({**spec, "fromBlock": spec.get("fromBlock", "latest"), "toBlock": "latest"})
        return self.filters.new_log_filter(spec, criteria, self.logs_of_block)

    async def eth_newBlockFilter(self, params: list[Any]) -> str:
        return self.filters.new_block_filter()

    async def eth_newPendingTransactionFilter(self, params: list[Any]) -> str:
        return self.filters.new_pending_filter()

    async def eth_getFilterChanges(self, params: list[Any]) -> list[Any]:
        return self.filters.changes(p.arg(params, 0, "filterId"))

    async def eth_getFilterLogs(self, params: list[Any]) -> list[dict[str, Any]]:
        spec, criteria = self.filters.log_filter_spec(p.arg(params, 0, "filterId"))
        first, last = self._log_range({k: v for k, v in spec.items() if k != "blockHash"} if "blockHash" not in spec else spec)
        return self.logs_in_range(first, last, criteria)

    async def eth_uninstallFilter(self, params: list[Any]) -> bool:
        return self.filters.uninstall(p.arg(params, 0, "filterId"))


def _explicit(tag: Any) -> bool:
    """A block number (not a tag) in a filter."""
    return isinstance(tag, int) or (isinstance(tag, str) and tag.startswith("0x"))


def _is_word(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("0x") and len(value) == 66


def _revert_error(exc: CallReverted) -> RpcError:
    if exc.data or str(exc) == "execution reverted":
        message = "execution reverted"
        reason = _decode_revert_reason(exc.data)
        if reason:
            message += f": {reason}"
        return RpcError(EXECUTION_REVERTED, message, data(exc.data))
    return RpcError(SERVER_ERROR, str(exc))


def _decode_revert_reason(output: bytes) -> str | None:
    """The string of Error(string), if the revert data is one."""
    if output[:4] != bytes.fromhex("08c379a0"):
        return None
    from eth_abi import decode

    try:
        return decode(["string"], output[4:])[0]
    except Exception:
        return None

