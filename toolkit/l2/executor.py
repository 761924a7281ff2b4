"""L2 execution on py-evm (Prague): genesis, deterministic block execution, canonical index, queries.

Every node of a chain (sequencer, verifier, derivation) produces blocks through the single
function `L2Executor.execute_block`, so equal inputs give equal block hashes by construction.
The canonical chain is tracked here (number -> hash), not by py-evm's score rule, which lets a
node drop unsafe blocks (a reorg) by truncating the index.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth import constants
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.chains.base import Chain
from eth.db.atomic import AtomicDB
from eth_utils import ValidationError, keccak, to_canonical_address

from toolkit.l2.calls import CallRefused, CallRequest, CallReverted, StateOverrides, estimate, run_call
from toolkit.l2.chain_config import L2ChainConfig
from toolkit.l2.l2_vm import L2PragueVM
from toolkit.l2.predeploys import genesis_accounts
from toolkit.l2.transactions import InvalidTransaction, decode_raw_transaction

log = logging.getLogger(__name__)

__all__ = ["BlockAttributes", "BlockExecutionError", "CallRefused", "CallReverted", "L2Executor"]

@dataclass(frozen=True)
class BlockAttributes:
    """What, besides transactions, determines an L2 block: carried in every batch."""

    timestamp: int
    l1_origin_number: int
    l1_origin_hash: bytes
    forced_start: int = 0  # first forced-queue index included (issue: force inclusion)
    forced_end: int = 0  # one past the last forced-queue index included

    def extra_data(self) -> bytes:
        return rlp.encode([self.l1_origin_number, self.forced_start, self.forced_end])

    @classmethod
    def from_header(cls, header: BlockHeaderAPI) -> BlockAttributes:
        origin, forced_start, forced_end = rlp.decode(header.extra_data)
        return cls(
            timestamp=header.timestamp,
            l1_origin_number=int.from_bytes(origin, "big"),
            l1_origin_hash=bytes(header.mix_hash),
            forced_start=int.from_bytes(forced_start, "big"),
            forced_end=int.from_bytes(forced_end, "big"),
        )


@dataclass(frozen=True)
class SkippedTransaction:
    raw: bytes
    reason: str


@dataclass
class ExecutedBlock:
    block: BlockAPI
    receipts: tuple[ReceiptAPI, ...]
    attributes: BlockAttributes
    raw_transactions: tuple[bytes, ...]  # the ordinary (batch-carried) transactions included
    skipped: tuple[SkippedTransaction, ...] = ()
    forced_outcomes: tuple[str | None, ...] = ()  # per forced entry: None if included, else why not

    @property
    def number(self) -> int:
        return self.block.number

    @property
    def hash(self) -> bytes:
        return bytes(self.block.hash)


class BlockExecutionError(Exception):
    """A block could not be executed as given (strict mode): an invalid transaction or attributes."""


@dataclass
class _Indexes:
    hash_by_number: list[bytes] = field(default_factory=list)
    tx_location: dict[bytes, tuple[int, int]] = field(default_factory=dict)
    receipts_by_hash: dict[bytes, tuple[ReceiptAPI, ...]] = field(default_factory=dict)
    raw_by_hash: dict[bytes, tuple[bytes, ...]] = field(default_factory=dict)
    forced_outcomes_by_hash: dict[bytes, tuple[str | None, ...]] = field(default_factory=dict)


class L2Executor:
    """One L2 chain's state and blocks, in memory."""

    def __init__(self, config: L2ChainConfig) -> None:
        self.config = config
        self._read_states = threading.local()  # per thread: (header hash, state) last read
        chain_class = Chain.configure(
            __name__=f"L2Chain{config.chain_id}",
            vm_configuration=((constants.GENESIS_BLOCK_NUMBER, L2PragueVM),),
            chain_id=config.chain_id,
        )
        genesis_params = {
            "difficulty": 0,
            "gas_limit": config.gas_limit,
            "timestamp": config.genesis_timestamp,
            "coinbase": to_canonical_address(config.fee_recipient),
            "extra_data": BlockAttributes(config.genesis_timestamp, 0, b"\0" * 32).extra_data(),
            "nonce": b"\0" * 8,
            "mix_hash": constants.ZERO_HASH32,
            "base_fee_per_gas": config.initial_base_fee,
        }
        genesis_state = {
            to_canonical_address(account.address): {
                "balance": account.balance,
                "nonce": account.nonce,
                "code": bytes.fromhex(account.code.removeprefix("0x")),
                "storage": dict(account.storage),
            }
            for account in genesis_accounts(config.alloc)
        }
        self.chain = chain_class.from_genesis(AtomicDB(), genesis_params, genesis_state)
        genesis = self.chain.get_canonical_head()
        self._index = _Indexes(hash_by_number=[bytes(genesis.hash)])
        self._index.receipts_by_hash[bytes(genesis.hash)] = ()
        self._index.raw_by_hash[bytes(genesis.hash)] = ()

    # ----- canonical chain -----
    @property
    def head(self) -> BlockHeaderAPI:
        return self.header_by_number(len(self._index.hash_by_number) - 1)

    @property
    def head_number(self) -> int:
        return len(self._index.hash_by_number) - 1

    @property
    def genesis_hash(self) -> bytes:
        return self._index.hash_by_number[0]

    def canonical_hash(self, number: int) -> bytes | None:
        if 0 <= number < len(self._index.hash_by_number):
            return self._index.hash_by_number[number]
        return None

    def header_by_number(self, number: int) -> BlockHeaderAPI:
        block_hash = self.canonical_hash(number)
        if block_hash is None:
            raise KeyError(f"no canonical L2 block {number}")
        return self.chain.get_block_header_by_hash(block_hash)

    def header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI | None:
        header = self.chain.get_block_header_by_hash(block_hash) if self.is_known(block_hash) else None
        return header

    def is_known(self, block_hash: bytes) -> bool:
        return bytes(block_hash) in self._index.receipts_by_hash

    def is_canonical(self, block_hash: bytes) -> bool:
        header = self.header_by_hash(block_hash)
        return header is not None and self.canonical_hash(header.block_number) == bytes(block_hash)

    def block_by_hash(self, block_hash: bytes) -> BlockAPI:
        return self.chain.get_block_by_hash(block_hash)

    def receipts(self, block_hash: bytes) -> tuple[ReceiptAPI, ...]:
        return self._index.receipts_by_hash[bytes(block_hash)]

    def raw_transactions(self, block_hash: bytes) -> tuple[bytes, ...]:
        """The ordinary raw transactions of a stored block (what a batch carries; forced ones excluded)."""
        return self._index.raw_by_hash[bytes(block_hash)]

    def forced_outcomes(self, block_hash: bytes) -> tuple[str | None, ...]:
        """Per forced entry of a stored block: None if included, else why it was skipped."""
        return self._index.forced_outcomes_by_hash.get(bytes(block_hash), ())

    def transaction_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        """(block number, index) of a transaction in the canonical chain."""
        return self._index.tx_location.get(bytes(tx_hash))

    def append(self, executed: ExecutedBlock) -> None:
        """Make an executed block the new canonical head (its parent must be the head)."""
        header = executed.block.header
        if bytes(header.parent_hash) != self._index.hash_by_number[-1]:
            raise BlockExecutionError(
                f"block {header.block_number} does not extend the head {self.head_number}"
            )
        self._index.hash_by_number.append(executed.hash)
        for index, tx in enumerate(executed.block.transactions):
            self._index.tx_location[bytes(tx.hash)] = (header.block_number, index)

    def rewind(self, number: int) -> list[bytes]:
        """Drop canonical blocks above `number`; returns the dropped block hashes, highest last."""
        if number < 0:
            raise ValueError("cannot rewind below genesis")
        dropped = self._index.hash_by_number[number + 1 :]
        del self._index.hash_by_number[number + 1 :]
        for block_hash in dropped:
            for tx in self.chain.get_block_by_hash(block_hash).transactions:
                self._index.tx_location.pop(bytes(tx.hash), None)
        return dropped

    # ----- execution -----
    def execute_block(
        self,
        parent: BlockHeaderAPI,
        attributes: BlockAttributes,
        raw_transactions: list[bytes],
        *,
        strict: bool,
        forced_transactions: list[bytes] | None = None,
    ) -> ExecutedBlock:
        """Execute a block on top of `parent` and store it (not yet canonical: see `append`).

        Forced transactions run first and are skipped when invalid, in every mode, so that every
        node makes the same decision. Ordinary transactions: `strict` raises on the first invalid
        one (derivation, gossip); otherwise they are skipped (the sequencer building a block).
        """
        if attributes.timestamp < parent.timestamp:  # equal is fine: sub-second blocks share a second
            raise BlockExecutionError(
                f"timestamp {attributes.timestamp} is before the parent's {parent.timestamp}"
            )
        vm_class = self.chain.get_vm_class_for_block_number(parent.block_number + 1)
        header = vm_class.create_header_from_parent(
            parent,
            timestamp=attributes.timestamp,
            coinbase=to_canonical_address(self.config.fee_recipient),
            gas_limit=self.config.gas_limit,
            mix_hash=attributes.l1_origin_hash,
            extra_data=attributes.extra_data(),
        )
        vm = self.chain.get_vm(header)
        vm.block_preprocessing(vm.get_block())
        included: list[SignedTransactionAPI] = []
        included_raw: list[bytes] = []
        receipts: list[ReceiptAPI] = []
        skipped: list[SkippedTransaction] = []
        forced_outcomes: list[str | None] = []

        def apply(raw: bytes, must_succeed: bool) -> str | None:
            nonlocal header
            try:
                tx = decode_raw_transaction(raw, self.config.chain_id)
                if tx.gas > header.gas_limit - header.gas_used:
                    raise InvalidTransaction("block gas limit reached")
                receipt = _apply_or_refuse(vm, header, tx)
            except InvalidTransaction as exc:
                if must_succeed:
                    raise BlockExecutionError(f"invalid transaction 0x{keccak(raw).hex()}: {exc}") from exc
                skipped.append(SkippedTransaction(raw=raw, reason=str(exc)))
                return str(exc)
            header = vm.add_receipt_to_header(header, receipt)
            included.append(tx)
            receipts.append(receipt)
            return None

        for raw in forced_transactions or []:
            forced_outcomes.append(apply(raw, must_succeed=False))
        for raw in raw_transactions:
            if apply(raw, must_succeed=strict) is None:
                included_raw.append(raw)

        block = vm.set_block_transactions_and_withdrawals(
            vm.get_block(), header, included, receipts, withdrawals=[]
        )
        block = vm.block_postprocessing(block)
        mined = vm.mine_block(block).block
        self.chain.chaindb.persist_block(mined)
        self._index.receipts_by_hash[bytes(mined.hash)] = tuple(receipts)
        self._index.raw_by_hash[bytes(mined.hash)] = tuple(included_raw)
        self._index.forced_outcomes_by_hash[bytes(mined.hash)] = tuple(forced_outcomes)
        return ExecutedBlock(
            block=mined,
            receipts=tuple(receipts),
            attributes=attributes,
            raw_transactions=tuple(included_raw),
            skipped=tuple(skipped),
            forced_outcomes=tuple(forced_outcomes),
        )

    # ----- state queries -----
    def _state(self, header: BlockHeaderAPI) -> Any:
        """The state after `header`, for reads. Pool admission and RPC read several accounts at one head:
        each thread keeps its last header's state object instead of building a VM per read."""
        last = getattr(self._read_states, "last", None)
        if last is not None and last[0] == header.hash:
            return last[1]
        state = self.chain.get_vm(header).state
        self._read_states.last = (header.hash, state)
        return state

    def balance(self, address: str, header: BlockHeaderAPI) -> int:
        return self._state(header).get_balance(to_canonical_address(address))

    def nonce(self, address: str, header: BlockHeaderAPI) -> int:
        return self._state(header).get_nonce(to_canonical_address(address))

    def code(self, address: str, header: BlockHeaderAPI) -> bytes:
        return self._state(header).get_code(to_canonical_address(address))

    def storage(self, address: str, slot: int, header: BlockHeaderAPI) -> int:
        return self._state(header).get_storage(to_canonical_address(address), slot)

    def call(
        self, request: CallRequest, header: BlockHeaderAPI, overrides: StateOverrides | None = None
    ) -> bytes:
        """Run a message call on the state after `header`; raises CallReverted / CallRefused."""
        return run_call(self.chain.get_vm(header), request, overrides or {}, header.gas_limit)

    def estimate_gas(
        self, request: CallRequest, header: BlockHeaderAPI, overrides: StateOverrides | None = None
    ) -> int:
        """Smallest gas limit that runs the call without error (geth's rules, see toolkit/l2/calls.py)."""
        return estimate(self.chain.get_vm(header), request, overrides or {}, header.gas_limit)


def _apply_or_refuse(vm: Any, header: BlockHeaderAPI, tx: SignedTransactionAPI) -> ReceiptAPI:
    """Run one transaction in the block being built. Anything py-evm refuses (its validation, or an
    exception half-way, which admission should have made impossible) becomes InvalidTransaction and
    leaves the block's state as it was: every node skips it the same way, no loop stops."""
    # vm.apply_transaction's steps, with a snapshot after its lock_changes (which drops snapshots)
    try:
        vm.validate_transaction_against_header(header, tx)
    except ValidationError as exc:
        raise InvalidTransaction(str(exc)) from exc
    vm.state.lock_changes()
    snapshot = vm.state.snapshot()
    try:
        computation = vm.state.apply_transaction(tx)
        receipt = vm.make_receipt(header, tx, computation, vm.state)
        vm.validate_receipt(receipt)
    except ValidationError as exc:  # nonce, balance, fee caps: checked before any state changes
        vm.state.revert(snapshot)
        raise InvalidTransaction(str(exc)) from exc
    except Exception as exc:
        vm.state.revert(snapshot)
        log.warning("py-evm refused transaction 0x%s during execution: %r", bytes(tx.hash).hex(), exc)
        raise InvalidTransaction(f"execution refused: {type(exc).__name__}: {exc}") from exc
    vm.state.commit(snapshot)
    return receipt


