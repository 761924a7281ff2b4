"""The watchtower: every node checks the signed blocks it sees and sends slashing evidence to L1.

- Equivocation: one validator signed two different blocks at one height of a chain (seen in
  gossip, in sync, or in our own chain). The node submits `slashEquivocation` with both signatures.
- Censorship: once L1 marks a forced entry late (`Inbox.lateness`), the node submits
  `slashCensorship`; the registry charges whoever led at the entry's deadline.

Only in modes whose registry slashes (`Mode.stakes`), only with a reporter key, never against the
node's own address. Several nodes may race to report the same evidence; L1 takes the first and
refuses the rest (`Jailed`), which is logged, not an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from toolkit.l1.client import BatchRejected, L1Client
from toolkit.l2.signed_block import SignedBlock

log = logging.getLogger(__name__)

MAX_REMEMBERED = 50_000


class Watchtower:
    def __init__(self, chain_id: int, l1: L1Client, reporter_key: str | None, own_address: str | None) -> None:
        self.chain_id = chain_id
        self.l1 = l1
        self.reporter_key = reporter_key
        self.own_address = own_address.lower() if own_address else None
        self.evidence: list[dict[str, Any]] = []  # what was seen, and what L1 said to the report
        self._first_seen: OrderedDict[tuple[str, int], SignedBlock] = OrderedDict()
        self._reported: set[tuple[str, int]] = set()
        self._censorship_checked = 0  # forced entries below this index are settled on L1
        self._tasks: set[asyncio.Task[None]] = set()

    # ----- equivocation -----
    def observe(self, block: SignedBlock, signer: str) -> None:
        """Note a validly signed block; report when its signer already signed another at that height."""
        if block.chain_id != self.chain_id:
            return
        key = (signer.lower(), block.number)
        first = self._first_seen.get(key)
        if first is None:
            self._first_seen[key] = block
            while len(self._first_seen) > MAX_REMEMBERED:
                self._first_seen.popitem(last=False)
            return
        if first.block_hash == block.block_hash or key in self._reported:
            return
        self._reported.add(key)
        record: dict[str, Any] = {
            "kind": "equivocation", "validator": signer, "number": block.number,
            "hashes": ["0x" + first.block_hash.hex(), "0x" + block.block_hash.hex()], "submitted": None,
        }
        self.evidence.append(record)
        log.warning("watchtower: %s signed two blocks at height %d (0x%s, 0x%s)", signer, block.number,
                    first.block_hash.hex(), block.block_hash.hex())
        if self.reporter_key is None or key[0] == self.own_address:
            record["submitted"] = "not submitted (no reporter key, or our own signature)"
            return
        self._spawn(self._submit(record, "slashEquivocation", self.chain_id, block.number,
                                 first.block_hash, first.signature, block.block_hash, block.signature))

    def forget_above(self, number: int) -> None:
        """A devnet revert: signatures above `number` never happened (the rebuilt blocks there are no
        equivocation)."""
        for key in [k for k in self._first_seen if k[1] > number]:
            del self._first_seen[key]
        self._reported = {key for key in self._reported if key[1] <= number}

    # ----- censorship -----
    async def check_censorship(self, queue_length: int) -> None:
        """Report forced entries L1 marks late; called from the node's L1 loop."""
        if self.reporter_key is None or self._censorship_checked >= queue_length:
            return
        cursor = int(await self.l1.inbox.functions.forcedCursor(self.chain_id).call())
        while self._censorship_checked < min(cursor, queue_length):
            index = self._censorship_checked
            late, _deadline = await self.l1.inbox.functions.lateness(self.chain_id, index).call()
            self._censorship_checked += 1
            if not late:
                continue
            leader = await self._leader_at_deadline(int(_deadline))
            if leader is not None and leader.lower() == self.own_address:
                continue  # never report ourselves
            record = {"kind": "censorship", "index": index, "deadline": int(_deadline), "validator": leader,
                      "submitted": None}
            self.evidence.append(record)
            log.warning("watchtower: forced entry %d of chain %d was included late (leader at its deadline: %s)",
                        index, self.chain_id, leader)
            self._spawn(self._submit(record, "slashCensorship", self.chain_id, index))

    async def _leader_at_deadline(self, deadline: int) -> str | None:
        try:
            return await self.l1.registry.functions.leaderAt(self.chain_id, deadline).call()
        except Exception:  # a registry without a leader history
            return None

    # ----- plumbing -----
    async def _submit(self, record: dict[str, Any], function: str, *args: Any) -> None:
        assert self.reporter_key is not None
        try:
            tx_hash = await self.l1.send_registry_call(self.reporter_key, function, *args)
            record["submitted"] = "0x" + tx_hash.hex()
            log.warning("watchtower: %s accepted by L1 in tx 0x%s", function, tx_hash.hex())
        except BatchRejected as exc:
            record["submitted"] = f"refused: {exc}"
            log.info("watchtower: L1 refused %s (another reporter may have been first): %s", function, exc)
        except Exception as exc:
            record["submitted"] = f"failed: {exc}"
            log.warning("watchtower: %s failed: %s", function, exc)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
