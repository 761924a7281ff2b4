"""Slashing protection: a node never signs two different blocks at one height of a chain.

Every signature is first written to a journal in the node's data dir (one JSON line per signed
block, flushed and fsynced before the signature leaves the process), so the guard holds across
restarts and SIGKILLs. Asking for a signature over a different block at a height already signed
raises DoubleSignRefused; asking again for the same block returns the signature already given.
After a restart the node replays its own signed blocks from the journal instead of building
those heights anew.

The one deliberate exception is `release_above`: the recovery of a sequencer whose batch L1
refused for skipping an overdue forced entry (only a censoring or misbehaving sequencer gets
there). It is logged as what it is, slashable equivocation, and recorded in the journal.
`revert_above` records a devnet revert (test control) the same way: L1 went back to before
those signatures, so no evidence of them is left to slash with.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from toolkit.l2.signed_block import SignedBlock

log = logging.getLogger(__name__)


class DoubleSignRefused(Exception):
    """The node already signed a different block at this height."""


class SigningGuard:
    def __init__(self, journal: Path | None) -> None:
        self.journal = journal
        self._signed: dict[tuple[int, int], SignedBlock] = {}
        self._released: dict[tuple[int, int], int] = {}  # heights re-opened for signing: -> count
        self._file: IO[str] | None = None
        if journal is not None:
            journal.parent.mkdir(parents=True, exist_ok=True)
            self._load(journal)
            self._file = journal.open("a", encoding="utf-8")

    def _load(self, journal: Path) -> None:
        if not journal.exists():
            return
        for line_number, line in enumerate(journal.read_text(encoding="utf-8").splitlines(), 1):
            try:
                record = json.loads(line)
                if "release" in record:
                    chain_id, above = int(record["chainId"]), int(record["release"])
                    for key in [k for k in self._signed if k[0] == chain_id and k[1] > above]:
                        del self._signed[key]
                    continue
                block = SignedBlock.from_json(record)
            except (ValueError, KeyError, TypeError) as exc:
                # a torn last line after a crash: the signature it was for never left the process
                log.warning("signing journal %s line %d unreadable (%s): ignored", journal, line_number, exc)
                continue
            self._signed[(block.chain_id, block.number)] = block

    def signed(self, chain_id: int, number: int) -> SignedBlock | None:
        return self._signed.get((chain_id, number))

    def signed_above(self, chain_id: int, number: int) -> list[SignedBlock]:
        """Our signed blocks of a chain above `number`, lowest first (replayed after a restart)."""
        return sorted((b for (c, n), b in self._signed.items() if c == chain_id and n > number),
                      key=lambda b: b.number)

    def check(self, chain_id: int, number: int, block_hash: bytes) -> None:
        """Raise DoubleSignRefused if a different block was signed at this height."""
        previous = self._signed.get((chain_id, number))
        if previous is not None and previous.block_hash != block_hash:
            raise DoubleSignRefused(
                f"chain {chain_id} block {number}: already signed 0x{previous.block_hash.hex()}, "
                f"refusing to sign 0x{block_hash.hex()}"
            )

    def sign(self, chain_id: int, number: int, block_hash: bytes, signer: Callable[[], SignedBlock]) -> SignedBlock:
        """Sign through `signer` unless that would be a second block at this height; journal it first."""
        self.check(chain_id, number, block_hash)
        previous = self._signed.get((chain_id, number))
        if previous is not None:
            return previous
        block = signer()
        self._write(json.dumps(block.to_json(), separators=(",", ":")))
        self._signed[(chain_id, number)] = block
        return block

    def release_above(self, chain_id: int, number: int, reason: str) -> list[int]:
        """Forget our signatures above `number` so those heights can be signed again: equivocation."""
        heights = sorted(n for c, n in self._signed if c == chain_id and n > number)
        if not heights:
            return []
        log.error(
            "RE-SIGNING chain %d heights %d..%d (%s): two signatures at one height are slashable equivocation",
            chain_id, heights[0], heights[-1], reason,
        )
        self._write(json.dumps({"chainId": chain_id, "release": number, "reason": reason}))
        for height in heights:
            del self._signed[(chain_id, height)]
            self._released[(chain_id, height)] = self._released.get((chain_id, height), 0) + 1
        return heights

    def revert_above(self, chain_id: int, number: int) -> list[int]:
        """A devnet revert to L2 block `number` (and L1 to before it): our signatures above it never
        happened. Journaled like a release, so a restart does not replay them."""
        heights = sorted(n for c, n in self._signed if c == chain_id and n > number)
        if heights:
            self._write(json.dumps({"chainId": chain_id, "release": number, "reason": "devnet_revert"}))
            for height in heights:
                del self._signed[(chain_id, height)]
        return heights

    def forget_below(self, chain_id: int, number: int) -> None:
        """Drop in-memory records below `number` (the safe head: those heights are never built again)."""
        for key in [k for k in self._signed if k[0] == chain_id and k[1] < number]:
            del self._signed[key]

    def _write(self, line: str) -> None:
        if self._file is None:
            return
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
