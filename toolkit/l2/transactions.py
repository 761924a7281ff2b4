"""Decoding and stateless validation of raw L2 transactions (legacy, EIP-2930, EIP-1559, ...)."""

from __future__ import annotations

from eth.abc import SignedTransactionAPI
from eth.vm.forks.prague.transactions import PragueTransactionBuilder

MAX_TRANSACTION_BYTES = 128 * 1024  # geth's txMaxSize


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


def decode_raw_transaction(raw: bytes, chain_id: int) -> SignedTransactionAPI:
    """Decode a signed transaction and check everything that does not depend on state."""
    if not raw:
        raise InvalidTransaction("empty transaction")
    if len(raw) > MAX_TRANSACTION_BYTES:
        raise InvalidTransaction(f"oversized data: {len(raw)} bytes, limit {MAX_TRANSACTION_BYTES}")
    try:
        tx = PragueTransactionBuilder.decode(bytes(raw))
    except Exception as exc:  # py-evm raises several rlp/validation types for garbage
        raise InvalidTransaction(f"transaction could not be decoded: {exc}") from exc
    if getattr(tx, "type_id", None) == 3:
        raise InvalidTransaction("blob transactions are not supported on this L2")
    bound_chain = transaction_chain_id(tx)
    if bound_chain is None:
        raise InvalidTransaction("only replay-protected (EIP-155) transactions allowed")
    if bound_chain != chain_id:
        raise InvalidTransaction(f"invalid chain id: transaction is for {bound_chain}, this chain is {chain_id}")
    try:
        tx.check_signature_validity()
        _ = tx.sender
        tx.validate()
    except Exception as exc:
        raise InvalidTransaction(f"invalid sender or signature: {exc}") from exc
    if tx.gas < tx.intrinsic_gas:
        raise InvalidTransaction(f"intrinsic gas too low: have {tx.gas}, want {tx.intrinsic_gas}")
    return tx
