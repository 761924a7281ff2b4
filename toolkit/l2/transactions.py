"""Admission of raw L2 transactions: decoding and every rule that does not depend on state.

`decode_raw_transaction` is the ONE admission function: the pool, the block builder and derivation
(through `L2Executor.execute_block`) all call it, so a transaction the pool takes is one the
executor will run, and one py-evm would refuse mid-execution (EIP-3860 init code over the limit,
gas below the EIP-7623 calldata floor, a nonce of 2^64-1 or more) never gets that far. Errors are
worded as geth words them (core/txpool/validation.go, core/state_transition.go).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from eth.abc import SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.forks.prague.transactions import PragueTransactionBuilder

MAX_TRANSACTION_BYTES = 128 * 1024  # geth's txMaxSize
MAX_INITCODE_SIZE = 2 * 24_576  # EIP-3860
INITCODE_WORD_GAS = 2  # EIP-3860, per 32-byte word of init code
TX_GAS = 21_000
FLOOR_GAS_PER_TOKEN = 10  # EIP-7623: total cost floor per calldata token
TOKENS_PER_NONZERO_BYTE = 4
NONCE_CAP = 2**64 - 1  # EIP-2681: a nonce is below this
SET_CODE_TYPE = 0x04
SUPPORTED_TYPES = (0x01, 0x02, SET_CODE_TYPE)  # EIP-2930, EIP-1559, EIP-7702 (and legacy, first byte >= 0xc0)


class InvalidTransaction(Exception):
    """A transaction that can never be included as it is; the message says why."""


def transaction_chain_id(tx: SignedTransactionAPI) -> int | None:
    """The chain id a transaction is bound to, or None for a pre-EIP-155 legacy transaction."""
    chain_id = getattr(tx, "chain_id", None)
    if chain_id is not None:
        return int(chain_id)
    v = int(tx.v)
    if v in (27, 28):
        return None
    return (v - 35) // 2


def is_create(tx: SignedTransactionAPI) -> bool:
    return bytes(tx.to) == CREATE_CONTRACT_ADDRESS


def floor_data_gas(data: bytes) -> int:
    """EIP-7623: the least gas a transaction with this calldata is charged."""
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * TOKENS_PER_NONZERO_BYTE
    return TX_GAS + FLOOR_GAS_PER_TOKEN * tokens


def intrinsic_gas(tx: SignedTransactionAPI) -> int:
    """Gas charged before execution, as geth counts it: py-evm's figure (base, calldata, create,
    access list, authorizations) plus the EIP-3860 init-code word cost, which py-evm charges only
    once execution has started."""
    gas = int(tx.intrinsic_gas)
    if is_create(tx):
        gas += INITCODE_WORD_GAS * ((len(tx.data) + 31) // 32)
    return gas


def _transaction_type(raw: bytes) -> int | None:
    """The EIP-2718 type byte, or None for a legacy (RLP list) transaction."""
    return None if raw[0] >= 0xC0 else raw[0]


DECODED_KEPT = 8192  # valid transactions kept decoded (the pool's, decoded again when a block includes them)
DECODED_KEPT_BYTES = 32 * 1024 * 1024  # ... and at most this many raw bytes of them


class _Decoded:
    """The most recently decoded valid transactions, by (raw bytes, chain id); bounded in count and bytes."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[bytes, int], SignedTransactionAPI] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[bytes, int]) -> SignedTransactionAPI | None:
        with self._lock:
            tx = self._kept.get(key)
            if tx is not None:
                self._kept.move_to_end(key)
            return tx

    def put(self, key: tuple[bytes, int], tx: SignedTransactionAPI) -> None:
        with self._lock:
            if key in self._kept:
                return
            self._kept[key] = tx
            self._bytes += len(key[0])
            while len(self._kept) > DECODED_KEPT or self._bytes > DECODED_KEPT_BYTES:
                (raw, _), _ = self._kept.popitem(last=False)
                self._bytes -= len(raw)


_decoded = _Decoded()


def decode_raw_transaction(raw: bytes, chain_id: int) -> SignedTransactionAPI:
    """Decode a signed transaction and check everything that does not depend on state.

    The same bytes decode to the same (immutable) transaction, its sender recovered once: a
    transaction the pool admitted is not decoded and recovered again when a block includes it."""
    key = (bytes(raw), chain_id)
    tx = _decoded.get(key)
    if tx is None:
        tx = _decode(*key)
        _decoded.put(key, tx)
    return tx


def _decode(raw: bytes, chain_id: int) -> SignedTransactionAPI:
    if not raw:
        raise InvalidTransaction("empty transaction")
    if len(raw) > MAX_TRANSACTION_BYTES:
        raise InvalidTransaction(f"oversized data: transaction size {len(raw)}, limit {MAX_TRANSACTION_BYTES}")
    tx_type = _transaction_type(raw)
    if tx_type is not None and tx_type not in SUPPORTED_TYPES:
        raise InvalidTransaction(f"transaction type not supported: type {tx_type}")
    try:
        tx = PragueTransactionBuilder.decode(bytes(raw))
    except Exception as exc:  # py-evm raises several rlp/validation types for garbage
        raise InvalidTransaction(f"transaction could not be decoded: {exc}") from exc
    bound_chain = transaction_chain_id(tx)
    if bound_chain is None:
        raise InvalidTransaction("only replay-protected (EIP-155) transactions allowed")
    if bound_chain != chain_id:
        raise InvalidTransaction(f"invalid chain id: transaction is for {bound_chain}, this chain is {chain_id}")
    check_execution_rules(tx)
    try:
        tx.check_signature_validity()
        _ = tx.sender
    except Exception as exc:
        raise InvalidTransaction(f"invalid sender or signature: {exc}") from exc
    try:
        tx.validate()  # field ranges (uint64 gas, uint256 values, ...), after our own clearer checks
    except Exception as exc:
        raise InvalidTransaction(f"invalid transaction: {exc}") from exc
    return tx


def check_execution_rules(tx: SignedTransactionAPI) -> None:
    """The rules py-evm would otherwise meet only while executing (or not at all)."""
    if int(tx.nonce) >= NONCE_CAP:
        raise InvalidTransaction(f"nonce has max value: nonce {tx.nonce}")
    if getattr(tx, "type_id", None) == SET_CODE_TYPE:
        if not tx.authorization_list:
            raise InvalidTransaction("EIP-7702 transaction with empty auth list")
        if is_create(tx):
            raise InvalidTransaction("EIP-7702 transaction cannot be used to create contract")
    if is_create(tx) and len(tx.data) > MAX_INITCODE_SIZE:
        raise InvalidTransaction(f"max initcode size exceeded: code size {len(tx.data)}, limit {MAX_INITCODE_SIZE}")
    needed = intrinsic_gas(tx)
    if tx.gas < needed:
        raise InvalidTransaction(f"intrinsic gas too low: gas {tx.gas}, minimum needed {needed}")
    floor = floor_data_gas(bytes(tx.data))
    if tx.gas < floor:
        raise InvalidTransaction(f"insufficient gas for floor data gas cost: gas {tx.gas}, minimum needed {floor}")
