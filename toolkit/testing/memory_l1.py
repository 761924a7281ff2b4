"""An L1 held in memory, for driving Derivation without Anvil.

It answers exactly what Derivation asks of `toolkit.l1.client.L1Client` (`head`, `block`,
`batches`, `forced_entries`, `finalized_number`), with the same signatures and return types.
Tests write to it as the Inbox would be written to: `add_batch` and `queue_forced` go into the
next L1 block, which `mine` seals.

    l1 = InMemoryL1()
    l1.add_batch(encode_batch(batch), first=1, last=3)
    l1.mine()
    derivation = Derivation(CHAIN_ID, state, l1)   # an InMemoryL1 stands in for the L1Client
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils import keccak

from toolkit.forced_queue import ForcedEntry
from toolkit.l1.client import L1Block, PostedBatch
from toolkit.testing.l2 import CHAIN_ID, GENESIS_TIMESTAMP

BATCHER = "0x" + "b0" * 20  # who posts batches, unless told otherwise
FORCER = "0x" + "f0" * 20  # who queues forced entries, unless told otherwise


@dataclass
class InMemoryL1:
    genesis_timestamp: int = GENESIS_TIMESTAMP
    block_time: int = 1
    inclusion_window: int = 10  # forced entry deadline = its L1 block + this
    finalized: int = 0  # what finalized_number() answers
    blocks: list[L1Block] = field(default_factory=list)
    posted: list[PostedBatch] = field(default_factory=list)
    queued: dict[int, list[ForcedEntry]] = field(default_factory=dict)  # chain id -> its queue
    _batch_counts: dict[int, int] = field(default_factory=dict)
    _logs_in_next_block: int = 0
    _forks: int = 0  # how many reorgs so far: salts the hashes of blocks mined after one

    def __post_init__(self) -> None:
        if not self.blocks:
            self.blocks.append(self._make_block(0))

    # ----- the L1Client surface Derivation uses -----
    async def head(self) -> L1Block:
        return self.blocks[-1]

    async def block(self, number: int) -> L1Block:
        if not 0 <= number < len(self.blocks):
            raise LookupError(f"L1 block {number} does not exist (head {self.head_number})")
        return self.blocks[number]

    async def batches(self, chain_id: int, first_block: int, last_block: int) -> list[PostedBatch]:
        return [
            p
            for p in self.posted
            if p.chain_id == chain_id
            and first_block <= p.l1_block <= last_block
            and p.l1_block <= self.head_number
        ]

    async def forced_entries(self, chain_id: int, first_block: int, last_block: int) -> list[ForcedEntry]:
        return [
            e
            for e in self.queued.get(chain_id, [])
            if first_block <= e.l1_block <= last_block and e.l1_block <= self.head_number
        ]

    async def finalized_number(self) -> int:
        return self.finalized

    async def canonical_hash(self, number: int) -> bytes | None:
        return self.blocks[number].hash if 0 <= number < len(self.blocks) else None

    def forget_from(self, number: int) -> None:
        """Nothing is cached here."""

    def reorg(self, depth: int, *, keep: tuple[PostedBatch | ForcedEntry, ...] = ()) -> int:
        """Orphan the newest `depth` blocks with everything in them, then mine `depth` new blocks (new
        hashes); batches and entries in `keep` are re-included in the first new block. Returns the fork point."""
        fork_point = self.head_number - depth
        kept_batches = [p for p in keep if isinstance(p, PostedBatch)]
        kept_entries = [e for e in keep if isinstance(e, ForcedEntry)]
        self.posted = [p for p in self.posted if p.l1_block <= fork_point]
        for chain_id, queue in self.queued.items():
            self.queued[chain_id] = [e for e in queue if e.l1_block <= fork_point]
        for chain_id in self._batch_counts:
            self._batch_counts[chain_id] = sum(1 for p in self.posted if p.chain_id == chain_id)
        del self.blocks[fork_point + 1 :]
        self._forks += 1
        self._logs_in_next_block = 0
        for posted in kept_batches:
            self.add_batch(posted.data, posted.first_l2_block, posted.last_l2_block, chain_id=posted.chain_id,
                           sender=posted.sender, problem=posted.problem)
        for entry in kept_entries:
            self.queue_forced(entry.raw, sender=entry.sender)
        self.mine(depth)
        return fork_point

    # ----- writing to it (what the Inbox and the L1 miner do) -----
    @property
    def head_number(self) -> int:
        return len(self.blocks) - 1

    @property
    def next_block(self) -> int:
        """The L1 block the next `add_batch` / `queue_forced` lands in."""
        return len(self.blocks)

    def mine(self, count: int = 1) -> L1Block:
        """Seal the next block (with whatever was added to it), then `count - 1` empty ones."""
        for _ in range(count):
            self.blocks.append(self._make_block(len(self.blocks)))
            self._logs_in_next_block = 0
        return self.blocks[-1]

    def mine_to(self, number: int) -> L1Block:
        """Mine until the head is L1 block `number`."""
        if number > self.head_number:
            self.mine(number - self.head_number)
        return self.blocks[-1]

    def add_batch(
        self,
        data: bytes | None,
        first: int,
        last: int,
        *,
        chain_id: int = CHAIN_ID,
        sender: str = BATCHER,
        problem: str | None = None,
    ) -> PostedBatch:
        """A BatchPosted in the next block; `data=None` with a `problem` is calldata the node could not read."""
        index = self._batch_counts.get(chain_id, 0)
        self._batch_counts[chain_id] = index + 1
        l1_block = self.next_block
        posted = PostedBatch(
            chain_id=chain_id,
            batch_index=index,
            sender=sender,
            first_l2_block=first,
            last_l2_block=last,
            data=data,
            problem=problem,
            l1_block=l1_block,
            l1_tx_hash=keccak(b"batch" + chain_id.to_bytes(32, "big") + index.to_bytes(32, "big")),
            log_index=self._next_log_index(),
        )
        self.posted.append(posted)
        return posted

    def queue_forced(
        self, raw: bytes, *, chain_id: int = CHAIN_ID, sender: str = FORCER, window: int | None = None
    ) -> ForcedEntry:
        """A ForcedTxQueued in the next block, with deadline = that block + the inclusion window."""
        queue = self.queued.setdefault(chain_id, [])
        l1_block = self.next_block
        entry = ForcedEntry(
            index=len(queue),
            tx_hash=keccak(raw),
            sender=sender,
            l1_block=l1_block,
            deadline=l1_block + (self.inclusion_window if window is None else window),
            raw=raw,
        )
        queue.append(entry)
        self._next_log_index()
        return entry

    def _next_log_index(self) -> int:
        index = self._logs_in_next_block
        self._logs_in_next_block += 1
        return index

    def _make_block(self, number: int) -> L1Block:
        return L1Block(
            number=number,
            hash=keccak(b"l1 block" + number.to_bytes(32, "big") + self._forks.to_bytes(32, "big")),
            parent_hash=self.blocks[number - 1].hash if number > 0 else b"\0" * 32,
            timestamp=self.genesis_timestamp + number * self.block_time,
        )
