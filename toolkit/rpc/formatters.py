"""Turn py-evm blocks, transactions, receipts and logs into Ethereum JSON-RPC objects."""

from __future__ import annotations

from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth_utils import to_checksum_address


def qty(value: int) -> str:
    return hex(int(value))


def data(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _tx_type(tx: SignedTransactionAPI) -> int:
    return int(getattr(tx, "type_id", None) or 0)


def effective_gas_price(tx: SignedTransactionAPI, base_fee: int) -> int:
    max_fee = getattr(tx, "max_fee_per_gas", None)
    if max_fee is None or _tx_type(tx) in (0, 1):
        return int(tx.gas_price)
    return min(int(max_fee), base_fee + int(tx.max_priority_fee_per_gas))


def format_header(header: BlockHeaderAPI, size: int) -> dict[str, Any]:
    return {
        "number": qty(header.block_number),
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "nonce": data(header.nonce),
        "sha3Uncles": data(header.uncles_hash),
        "logsBloom": data(header.bloom.to_bytes(256, "big")),
        "transactionsRoot": data(header.transaction_root),
        "stateRoot": data(header.state_root),
        "receiptsRoot": data(header.receipt_root),
        "miner": to_checksum_address(header.coinbase),
        "difficulty": qty(header.difficulty),
        "totalDifficulty": qty(0),
        "extraData": data(header.extra_data),
        "size": qty(size),
        "gasLimit": qty(header.gas_limit),
        "gasUsed": qty(header.gas_used),
        "timestamp": qty(header.timestamp),
        "mixHash": data(header.mix_hash),
        "baseFeePerGas": qty(header.base_fee_per_gas),
        "withdrawalsRoot": data(header.withdrawals_root),
        "blobGasUsed": qty(header.blob_gas_used),
        "excessBlobGas": qty(header.excess_blob_gas),
        "parentBeaconBlockRoot": data(header.parent_beacon_block_root),
        "requestsHash": data(header.requests_hash),
    }


def format_block(block: BlockAPI, full_transactions: bool) -> dict[str, Any]:
    import rlp

    result = format_header(block.header, len(rlp.encode(block)))
    if full_transactions:
        result["transactions"] = [
            format_transaction(tx, block.header, index) for index, tx in enumerate(block.transactions)
        ]
    else:
        result["transactions"] = [data(tx.hash) for tx in block.transactions]
    result["uncles"] = []
    result["withdrawals"] = []
    return result


def format_transaction(
    tx: SignedTransactionAPI, header: BlockHeaderAPI | None, index: int | None
) -> dict[str, Any]:
    tx_type = _tx_type(tx)
    result: dict[str, Any] = {
        "hash": data(tx.hash),
        "type": qty(tx_type),
        "nonce": qty(tx.nonce),
        "blockHash": data(header.hash) if header is not None else None,
        "blockNumber": qty(header.block_number) if header is not None else None,
        "blockTimestamp": qty(header.timestamp) if header is not None else None,
        "transactionIndex": qty(index) if index is not None else None,
        "from": to_checksum_address(tx.sender),
        "to": to_checksum_address(tx.to) if tx.to else None,
        "value": qty(tx.value),
        "gas": qty(tx.gas),
        "input": data(tx.data),
        "r": qty(tx.r),
        "s": qty(tx.s),
    }
    if tx_type == 0:
        result["gasPrice"] = qty(tx.gas_price)
        result["v"] = qty(tx.v)
        if tx.v >= 35:
            result["chainId"] = qty((tx.v - 35) // 2)
    else:
        result["chainId"] = qty(tx.chain_id)
        result["yParity"] = qty(tx.y_parity)
        result["v"] = qty(tx.y_parity)
        result["accessList"] = [
            {"address": to_checksum_address(address), "storageKeys": [f"0x{slot:064x}" for slot in slots]}
            for address, slots in tx.access_list
        ]
        if tx_type == 1:
            result["gasPrice"] = qty(tx.gas_price)
        else:
            result["maxFeePerGas"] = qty(tx.max_fee_per_gas)
            result["maxPriorityFeePerGas"] = qty(tx.max_priority_fee_per_gas)
            base_fee = header.base_fee_per_gas if header is not None else int(tx.max_fee_per_gas)
            result["gasPrice"] = qty(effective_gas_price(tx, base_fee) if header is not None else tx.max_fee_per_gas)
    return result


def format_logs(
    receipt: ReceiptAPI,
    header: BlockHeaderAPI,
    tx: SignedTransactionAPI,
    tx_index: int,
    first_log_index: int,
    removed: bool = False,
) -> list[dict[str, Any]]:
    return [
        {
            "address": to_checksum_address(log.address),
            "topics": [f"0x{topic:064x}" for topic in log.topics],
            "data": data(log.data),
            "blockNumber": qty(header.block_number),
            "blockHash": data(header.hash),
            "blockTimestamp": qty(header.timestamp),
            "transactionHash": data(tx.hash),
            "transactionIndex": qty(tx_index),
            "logIndex": qty(first_log_index + offset),
            "removed": removed,
        }
        for offset, log in enumerate(receipt.logs)
    ]


def format_receipt(
    block: BlockAPI, receipts: tuple[ReceiptAPI, ...], tx_index: int
) -> dict[str, Any]:
    header = block.header
    tx = block.transactions[tx_index]
    receipt = receipts[tx_index]
    previous_cumulative = receipts[tx_index - 1].gas_used if tx_index > 0 else 0
    first_log_index = sum(len(r.logs) for r in receipts[:tx_index])
    contract_address = None
    if not tx.to:
        contract_address = to_checksum_address(generate_contract_address(tx.sender, tx.nonce))
    return {
        "transactionHash": data(tx.hash),
        "transactionIndex": qty(tx_index),
        "blockHash": data(header.hash),
        "blockNumber": qty(header.block_number),
        "from": to_checksum_address(tx.sender),
        "to": to_checksum_address(tx.to) if tx.to else None,
        "cumulativeGasUsed": qty(receipt.gas_used),
        "gasUsed": qty(receipt.gas_used - previous_cumulative),
        "effectiveGasPrice": qty(effective_gas_price(tx, header.base_fee_per_gas)),
        "contractAddress": contract_address,
        "logs": format_logs(receipt, header, tx, tx_index, first_log_index),
        "logsBloom": data(receipt.bloom.to_bytes(256, "big")),
        "status": qty(1 if receipt.state_root == b"\x01" else 0),
        "type": qty(_tx_type(tx)),
    }
