"""The all-chains bundle check (mode shared): a verifier that follows every chain of the set reads
the bundle markers of each shared batch (namespace 0, toolkit/bundle_markers.py) and checks them
against the blocks it derived: every leg in the block its marker names, and for `execution` bundles
with status 1. Violations are logged and listed in `rollup_syncStatus.bundleAudit`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from toolkit.bundle_markers import MARKER_NAMESPACE, BundleMarker, MarkerDecodeError, decode_markers
from toolkit.l1.client import L1Client
from toolkit.l2.executor import L2Executor

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
MAX_L1_RANGE = 500


def violations_of(marker: BundleMarker, executors: dict[int, L2Executor]) -> list[str]:
    """What is wrong with one bundle marker, judged on derived chains (empty: the bundle held)."""
    problems = []
    for index, leg in enumerate(marker.legs):
        executor = executors.get(leg.chain_id)
        if executor is None:
            problems.append(f"leg {index}: chain {leg.chain_id} is not in this set")
            continue
        block_hash = executor.canonical_hash(leg.block_number)
        if block_hash is None:
            problems.append(f"leg {index}: chain {leg.chain_id} has no block {leg.block_number}")
            continue
        hashes = [bytes(tx.hash) for tx in executor.block_by_hash(block_hash).transactions]
        if leg.tx_hash not in hashes:
            problems.append(f"leg {index}: 0x{leg.tx_hash.hex()} is not in block {leg.block_number} of chain "
                            f"{leg.chain_id}")
        elif marker.atomicity == "execution":
            receipt = executor.receipts(block_hash)[hashes.index(leg.tx_hash)]
            if bytes(receipt.state_root) != b"\x01":
                problems.append(f"leg {index}: 0x{leg.tx_hash.hex()} failed in an execution bundle")
    return problems


class BundleAuditor:
    def __init__(self, l1: L1Client, executors: dict[int, L2Executor], derived_l1: Any, start_l1_block: int) -> None:
        self.l1 = l1
        self.executors = executors
        self.derived_l1 = derived_l1  # () -> the L1 block every chain has derived through
        self.cursor = start_l1_block - 1
        self.checked = 0
        self.violations: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> None:
        last = min(self.derived_l1(), self.cursor + MAX_L1_RANGE)
        if last <= self.cursor:
            return
        for posted in await self.l1.batches(MARKER_NAMESPACE, self.cursor + 1, last):
            try:
                markers = decode_markers(posted.data or b"")
            except MarkerDecodeError as exc:
                self._report(None, posted.l1_block, [f"markers do not decode: {exc}"])
                continue
            for marker in markers:
                self.checked += 1
                problems = violations_of(marker, self.executors)
                if problems:
                    self._report(marker, posted.l1_block, problems)
        self.cursor = last

    def _report(self, marker: BundleMarker | None, l1_block: int, problems: list[str]) -> None:
        bundle_id = "0x" + marker.bundle_id.hex() if marker is not None else None
        self.violations.append({"bundleId": bundle_id, "l1Block": l1_block, "problems": problems})
        log.error("bundle violation: bundle %s marked in L1 block %d: %s", bundle_id, l1_block, "; ".join(problems))

    def status(self) -> dict[str, Any]:
        return {"markersChecked": self.checked, "derivedL1": self.cursor, "violations": self.violations[-50:]}

    async def _loop(self) -> None:
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bundle audit: %s", exc)
            await asyncio.sleep(POLL_SECONDS)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="bundle-audit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
