"""A node's mirror of one chain's L1 forced-inclusion queue, and the rules every node applies to it.

    includable_end(o): entries queued in L1 blocks <= o; a block with L1 origin o may include them.
    required_end(o):   entries whose deadline <= o; a block with L1 origin o must include them
                       (derivation inserts them itself when a batch did not), as far as they fit:
    fitting_end(s, e): a block's forced range has a gas budget, the block gas limit: the entries of
                       [s, e) it carries, in queue order, while the sum of their gas limits fits; the
                       rest move to the next L2 block. The builder and derivation both apply it, so
                       no forced transaction is ever skipped for want of block gas.
An entry still unconsumed by the safe chain when L1 passes its deadline is forced in by
derivation in a block of its own (see derivation.py), so inclusion needs no sequencer.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from toolkit.l2.transactions import InvalidTransaction, decode_raw_transaction


@dataclass(frozen=True)
class ForcedEntry:
    index: int
    tx_hash: bytes  # keccak of the raw bytes (the L2 tx hash when they are a valid transaction)
    sender: str  # who queued it on L1
    l1_block: int
    deadline: int
    raw: bytes


@dataclass
class ForcedOutcome:
    l2_block: int
    included: bool
    reason: str | None = None  # why it was skipped, when it was


@dataclass
class ForcedQueue:
    entries: list[ForcedEntry] = field(default_factory=list)
    outcomes: dict[int, ForcedOutcome] = field(default_factory=dict)
    _deadlines: list[int] = field(default_factory=list)  # sorted: deadlines grow with the index
    _l1_blocks: list[int] = field(default_factory=list)
    _gas: dict[int, int] = field(default_factory=dict)  # index -> gas the entry reserves (0 if invalid)

    def add(self, entry: ForcedEntry) -> None:
        if entry.index < len(self.entries):
            return  # already known (overlapping L1 range)
        if entry.index != len(self.entries):
            raise ValueError(f"forced entry {entry.index} arrived before entry {len(self.entries)}")
        self.entries.append(entry)
        self._deadlines.append(entry.deadline)
        self._l1_blocks.append(entry.l1_block)

    def truncate_from_l1_block(self, l1_block: int) -> None:
        """Forget entries queued at or after `l1_block` (an L1 reorg removed them)."""
        keep = bisect.bisect_left(self._l1_blocks, l1_block)
        del self.entries[keep:], self._deadlines[keep:], self._l1_blocks[keep:]
        for index in [i for i in self._gas if i >= keep]:
            del self._gas[index]

    def includable_end(self, l1_origin: int) -> int:
        return bisect.bisect_right(self._l1_blocks, l1_origin)

    def required_end(self, l1_origin: int) -> int:
        # Deadlines are non-decreasing with the index only while the window is constant; take the
        # longest prefix that is all due, which is what "consumed in order" allows.
        end = 0
        while end < len(self._deadlines) and self._deadlines[end] <= l1_origin:
            end += 1
        return end

    def fitting_end(self, start: int, end: int, gas_limit: int, chain_id: int) -> int:
        """How far into [start, end) one block's forced range may reach: entries in queue order while
        the sum of their gas limits stays within `gas_limit`. An entry that is not an admissible
        transaction reserves nothing (every node skips it); one fits alone in an empty block at most."""
        used = 0
        for index in range(start, end):
            gas = self.entry_gas(index, gas_limit, chain_id)
            if used + gas > gas_limit:
                return index
            used += gas
        return end

    def entry_gas(self, index: int, gas_limit: int, chain_id: int) -> int:
        """The gas an entry reserves in its block: its gas limit if it is admissible, else 0."""
        gas = self._gas.get(index)
        if gas is None:
            try:
                gas = int(decode_raw_transaction(self.entries[index].raw, chain_id).gas)
            except InvalidTransaction:
                gas = 0
            self._gas[index] = gas
        return gas if gas <= gas_limit else 0

    def raws(self, start: int, end: int) -> list[bytes]:
        return [entry.raw for entry in self.entries[start:end]]

    def record(self, l2_block: int, start: int, outcomes: tuple[str | None, ...]) -> None:
        for offset, reason in enumerate(outcomes):
            self.outcomes[start + offset] = ForcedOutcome(l2_block, reason is None, reason)

    def forget_above(self, l2_block: int) -> None:
        for index in [i for i, outcome in self.outcomes.items() if outcome.l2_block > l2_block]:
            del self.outcomes[index]

    def describe(self, l1_head: int, safe_l2: int) -> list[dict[str, Any]]:
        described = []
        for entry in self.entries:
            outcome = self.outcomes.get(entry.index)
            item: dict[str, Any] = {
                "index": entry.index,
                "txHash": "0x" + entry.tx_hash.hex(),
                "sender": entry.sender,
                "l1Block": entry.l1_block,
                "deadline": entry.deadline,
            }
            if outcome is None:
                item["status"] = "overdue" if entry.deadline < l1_head else "queued"
            else:
                item["status"] = "included" if outcome.included else "skipped"
                item["l2Block"] = outcome.l2_block
                item["safe"] = outcome.l2_block <= safe_l2
                if outcome.reason:
                    item["reason"] = outcome.reason
            described.append(item)
        return described
