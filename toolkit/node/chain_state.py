"""A node's view of its L2 chain: unsafe head (executor head), safe and finalized heads, reorgs.

Every change to the canonical chain goes through here so that WebSocket subscribers and filters
see each block once, and see `removed` events when unsafe blocks are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from toolkit.forced_queue import ForcedQueue
from toolkit.l2.executor import BlockAttributes, ExecutedBlock, L2Executor
from toolkit.rpc.events import BlockEvent, ChainEvents

log = logging.getLogger(__name__)


class ChainState:
    def __init__(self, executor: L2Executor, events: ChainEvents) -> None:
        self.executor = executor
        self.events = events
        self.forced_queue = ForcedQueue()
        self.safe_number = 0
        self.finalized_number = 0
        self.l1_block_of_safe: dict[int, int] = {0: 0}  # L2 block -> L1 block of the batch that made it safe
        self.reorg_count = 0
        self._reorg_listeners: list[Callable[[int], None]] = []

    @property
    def unsafe_number(self) -> int:
        return self.executor.head_number

    def on_reorg(self, listener: Callable[[int], None]) -> None:
        """Call `listener(first_dropped_number)` whenever unsafe blocks are dropped."""
        self._reorg_listeners.append(listener)

    @property
    def safe_forced_end(self) -> int:
        """How far into the forced queue the safe chain has consumed."""
        return BlockAttributes.from_header(self.executor.header_by_number(self.safe_number)).forced_end

    def extend_unsafe(self, executed: ExecutedBlock) -> None:
        self.executor.append(executed)
        outcomes = self.executor.forced_outcomes(executed.hash)
        if outcomes:
            self.forced_queue.record(executed.number, executed.attributes.forced_start, outcomes)
        self.events.emit(BlockEvent(executed.block, executed.receipts))

    def rewind_unsafe(self, number: int) -> None:
        """Drop canonical blocks above `number` (never below the safe head)."""
        if number < self.safe_number:
            raise ValueError(f"cannot rewind to {number}: safe head is {self.safe_number}")
        if number >= self.executor.head_number:
            return
        dropped = self.executor.rewind(number)
        self.forced_queue.forget_above(number)
        self.reorg_count += 1
        log.warning("L2 reorg: dropped unsafe blocks %d..%d", number + 1, number + len(dropped))
        for block_hash in reversed(dropped):
            self.events.emit(
                BlockEvent(self.executor.block_by_hash(block_hash), self.executor.receipts(block_hash), removed=True)
            )
        for listener in self._reorg_listeners:
            listener(number + 1)

    def adopt_safe(self, derived: list[ExecutedBlock], l1_block: int) -> None:
        """Blocks derived from one L1 batch become safe; unsafe blocks that disagree are replaced."""
        for executed in derived:
            number = executed.number
            if self.executor.canonical_hash(number) != executed.hash:
                if number <= self.executor.head_number:
                    self.rewind_unsafe(number - 1)
                self.extend_unsafe(executed)
            self.safe_number = number
            self.l1_block_of_safe[number] = l1_block

    def rewind_safe_to_l1(self, l1_block: int) -> int:
        """An L1 reorg orphaned every L1 block above `l1_block`: the safe head goes back to the last L2
        block made safe by a batch in an L1 block at or below it (never below finalized). The blocks
        stay canonical (unsafe) until derivation replaces or confirms them. Returns the new safe head."""
        number = self.safe_number
        while number > self.finalized_number and self.l1_block_of_safe.get(number, 0) > l1_block:
            del self.l1_block_of_safe[number]
            number -= 1
        if 0 < number == self.finalized_number and self.l1_block_of_safe.get(number, 0) > l1_block:
            log.error("L1 reorg below the L1 block that finalized L2 block %d: finalized does not move back",
                      number)
        if number < self.safe_number:
            log.warning("L1 reorg: safe head back from %d to %d", self.safe_number, number)
        self.safe_number = number
        return number

    def revert_to(self, number: int, safe: int, finalized: int) -> None:
        """A devnet revert (test control): the heads go back to a snapshot's, finalized included, which
        no reorg may do. Blocks above `number` are dropped as in any reorg (subscribers see them removed)."""
        self.finalized_number = min(self.finalized_number, finalized)
        self.safe_number = min(self.safe_number, safe)
        for later in [n for n in self.l1_block_of_safe if n > self.safe_number]:
            del self.l1_block_of_safe[later]
        self.rewind_unsafe(number)

    def update_finalized(self, l1_finalized: int) -> None:
        number = self.finalized_number
        while number + 1 <= self.safe_number and self.l1_block_of_safe.get(number + 1, 1 << 62) <= l1_finalized:
            number += 1
        self.finalized_number = number
