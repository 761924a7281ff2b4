"""Who led one chain from which L1 block on, as this node read L1: the transitions of its views.

Gossip asks it whether a block's signer led at some L1 block between the block's L1 origin and
now. The sequencer that built the block checked on L1 that it led right before signing (at an L1
block at or after the origin it used), so an honest leader always passes, even when its block
arrives after the lead passed on; a validator that never led in that span does not.
"""

from __future__ import annotations

from bisect import bisect_right

MAX_TRANSITIONS = 4096


class LeaderHistory:
    def __init__(self) -> None:
        self._numbers: list[int] = []  # L1 block from which the leader below held, ascending
        self._leaders: list[str | None] = []  # lower-cased address, None while nobody led

    @property
    def start(self) -> int | None:
        """The first L1 block this record covers (None: nothing read yet)."""
        return self._numbers[0] if self._numbers else None

    def record(self, l1_number: int, leader: str | None) -> None:
        """The leader at L1 block `l1_number` (views arrive in L1 order; a reorg calls forget_after first)."""
        leader = leader.lower() if leader else None
        if self._numbers and l1_number <= self._numbers[-1]:
            return  # an older read finishing late tells nothing new
        if self._leaders and self._leaders[-1] == leader:
            return
        self._numbers.append(l1_number)
        self._leaders.append(leader)
        if len(self._numbers) > MAX_TRANSITIONS:
            del self._numbers[0], self._leaders[0]

    def forget_after(self, fork_point: int) -> None:
        """L1 blocks above `fork_point` were orphaned: what was read from them no longer holds."""
        keep = bisect_right(self._numbers, fork_point)
        del self._numbers[keep:], self._leaders[keep:]

    def led_from(self, address: str, l1_number: int) -> bool:
        """Whether `address` led at some L1 block from `l1_number` on, among the blocks this record covers."""
        first = max(bisect_right(self._numbers, l1_number) - 1, 0)
        return address.lower() in self._leaders[first:]

    def covers(self, l1_number: int) -> bool:
        return self.start is not None and self.start <= l1_number
