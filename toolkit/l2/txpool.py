"""The sequencer's mempool: validated transactions waiting for a block.

Transactions are kept per sender in nonce order. A transaction whose nonce is ahead of the
sender's next nonce waits ("queued") until the gap fills, as in geth. Blocks take executable
transactions in arrival order, one sender's nonces in sequence.

A full pool makes room as geth's does, so one sender cannot lock others out: a sender holding more
than ACCOUNT_SLOTS transactions gives up its last-in-line one to a sender holding fewer; otherwise
the cheapest last-in-line transaction (by tip) goes if the newcomer pays more ("transaction
underpriced" if not). A sender already at ACCOUNT_SLOTS in a full pool gets "txpool is full".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth_utils import to_checksum_address

from toolkit.l2.executor import L2Executor
from toolkit.l2.transactions import InvalidTransaction, decode_raw_transaction

PRICE_BUMP_PERCENT = 10
MAX_POOL_TRANSACTIONS = 20_000
ACCOUNT_SLOTS = 16  # geth's txpool.accountslots: what each sender is sure to keep in a full pool


@dataclass
class PoolEntry:
    raw: bytes
    tx: SignedTransactionAPI
    sender: str
    arrival: int

    @property
    def hash(self) -> bytes:
        return bytes(self.tx.hash)


def _fee_cap(tx: SignedTransactionAPI) -> int:
    fee = getattr(tx, "max_fee_per_gas", None)  # a 0 fee cap is a fee cap (found by tests/test_fuzz.py)
    return int(fee if fee is not None else tx.gas_price)


def _tip_cap(tx: SignedTransactionAPI) -> int:
    tip = getattr(tx, "max_priority_fee_per_gas", None)
    return int(tip if tip is not None else tx.gas_price)


@dataclass
class TxPool:
    executor: L2Executor
    censored: set[str] = field(default_factory=set)
    max_transactions: int | None = None  # None: MAX_POOL_TRANSACTIONS
    account_slots: int = ACCOUNT_SLOTS
    evicted: dict[bytes, str] = field(default_factory=dict)  # tx hash -> why a full pool let it go
    _by_sender: dict[str, dict[int, PoolEntry]] = field(default_factory=dict)
    _by_hash: dict[bytes, PoolEntry] = field(default_factory=dict)
    _arrivals: itertools.count = field(default_factory=itertools.count)

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, tx_hash: bytes) -> PoolEntry | None:
        return self._by_hash.get(bytes(tx_hash))

    def add(self, raw: bytes) -> bytes:
        """Validate against the head state and keep; returns the tx hash or raises InvalidTransaction."""
        head = self.executor.head
        tx = decode_raw_transaction(raw, self.executor.config.chain_id)
        sender = to_checksum_address(tx.sender)
        if bytes(tx.hash) in self._by_hash or self.executor.transaction_location(tx.hash):
            raise InvalidTransaction("already known")
        if tx.gas > head.gas_limit:
            raise InvalidTransaction(f"exceeds block gas limit: gas {tx.gas} > {head.gas_limit}")
        state_nonce = self.executor.nonce(sender, head)
        if tx.nonce < state_nonce:
            raise InvalidTransaction(f"nonce too low: next nonce {state_nonce}, tx nonce {tx.nonce}")
        cost = tx.value + tx.gas * _fee_cap(tx)
        balance = self.executor.balance(sender, head)
        if balance < cost:
            raise InvalidTransaction(
                f"insufficient funds for gas * price + value: balance {balance}, tx cost {cost}"
            )
        if _tip_cap(tx) > _fee_cap(tx):
            raise InvalidTransaction("max priority fee per gas higher than max fee per gas")
        slots = self._by_sender.setdefault(sender, {})
        existing = slots.get(tx.nonce)
        if existing is not None:
            self._check_replacement(existing.tx, tx)
            self._by_hash.pop(existing.hash, None)
        elif len(self._by_hash) >= self._capacity:
            self._make_room(sender, tx)
        entry = PoolEntry(raw=bytes(raw), tx=tx, sender=sender, arrival=next(self._arrivals))
        slots[tx.nonce] = entry
        self._by_hash[entry.hash] = entry
        return entry.hash

    @property
    def _capacity(self) -> int:
        return MAX_POOL_TRANSACTIONS if self.max_transactions is None else self.max_transactions

    def _make_room(self, sender: str, tx: SignedTransactionAPI) -> None:
        """Evict one transaction for `tx` from `sender`, or raise (see the module docstring)."""
        held = len(self._by_sender.get(sender, {}))
        if held >= self.account_slots or not self._by_hash:
            raise InvalidTransaction("txpool is full")
        last_in_line = [(len(slots), slots[max(slots)]) for slots in self._by_sender.values() if slots]
        count, victim = max(last_in_line, key=lambda item: (item[0], item[1].arrival))
        if count > self.account_slots:
            reason = f"evicted: the pool was full and {victim.sender} held {count} transactions"
        else:
            victim = min((entry for _, entry in last_in_line), key=lambda e: (_tip_cap(e.tx), -e.arrival))
            if _tip_cap(tx) <= _tip_cap(victim.tx):
                raise InvalidTransaction("transaction underpriced")
            reason = "evicted: the pool was full and a better-paying transaction arrived"
        self.drop(victim.hash)
        self.evicted[victim.hash] = reason
        while len(self.evicted) > self._capacity:
            self.evicted.pop(next(iter(self.evicted)))

    @staticmethod
    def _check_replacement(old: SignedTransactionAPI, new: SignedTransactionAPI) -> None:
        bump = 100 + PRICE_BUMP_PERCENT
        if _fee_cap(new) * 100 < _fee_cap(old) * bump or _tip_cap(new) * 100 < _tip_cap(old) * bump:
            raise InvalidTransaction("replacement transaction underpriced")

    def pending_nonce(self, address: str, head: BlockHeaderAPI) -> int:
        """The next nonce counting this sender's executable pool transactions."""
        sender = to_checksum_address(address)
        nonce = self.executor.nonce(sender, head)
        slots = self._by_sender.get(sender, {})
        while nonce in slots:
            nonce += 1
        return nonce

    def executable(self) -> list[bytes]:
        """Raw transactions that can run on top of the head, arrival order, nonces in sequence."""
        head = self.executor.head
        runs: list[list[PoolEntry]] = []
        for sender, slots in self._by_sender.items():
            if sender in self.censored:
                continue
            nonce = self.executor.nonce(sender, head)
            run = []
            while nonce in slots:
                run.append(slots[nonce])
                nonce += 1
            if run:
                runs.append(run)
        ordered: list[PoolEntry] = []
        # Interleave senders by the arrival of each one's next transaction.
        cursors = [0] * len(runs)
        while True:
            candidates = [(runs[i][cursors[i]].arrival, i) for i in range(len(runs)) if cursors[i] < len(runs[i])]
            if not candidates:
                break
            _, chosen = min(candidates)
            ordered.append(runs[chosen][cursors[chosen]])
            cursors[chosen] += 1
        return [entry.raw for entry in ordered]

    def remove_stale(self) -> None:
        """Drop what the new head made impossible: included or lower nonces, unaffordable txs."""
        head = self.executor.head
        for sender in list(self._by_sender):
            slots = self._by_sender[sender]
            state_nonce = self.executor.nonce(sender, head)
            for nonce in [n for n in slots if n < state_nonce]:
                self._by_hash.pop(slots.pop(nonce).hash, None)
            if not slots:
                del self._by_sender[sender]

    def drop(self, tx_hash: bytes) -> None:
        entry = self._by_hash.pop(bytes(tx_hash), None)
        if entry is not None:
            slots = self._by_sender.get(entry.sender, {})
            slots.pop(entry.tx.nonce, None)
            if not slots:
                self._by_sender.pop(entry.sender, None)

    def clear(self) -> int:
        """Empty the pool (a devnet revert: what was sent after the snapshot never happened); returns how many."""
        count = len(self._by_hash)
        self._by_hash.clear()
        self._by_sender.clear()
        return count

    def content(self) -> dict[str, list[PoolEntry]]:
        return {sender: [slots[n] for n in sorted(slots)] for sender, slots in self._by_sender.items()}
