"""The shared batcher (mode `shared`): one poster per node for every chain the node sequences.

While the node leads (the same leader for every chain), each chain's `Batcher` says which of its
blocks wait; when any chain's batch is due, every chain with waiting blocks becomes one segment of
one `Inbox.postSharedBatch` transaction (toolkit/shared_batch.py), attested once by the validators
(POST /p2p/attest-shared: each checks every segment against its own chain). L1 refusing the batch
rewinds every chain's cursor; `ChainForcedTxOverdue(chainId, ...)` is handled by that chain's role
as a single-chain `ForcedTxOverdue` is.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from toolkit.bundle_markers import MARKER_NAMESPACE, encode_markers
from toolkit.l1.client import BatchRejected, L1Client
from toolkit.sequencer.attestation import ATTEST_SHARED_PATH, collect_signatures
from toolkit.sequencer.batcher import Batcher, PendingBatch
from toolkit.sequencer.bundles import BundleBook
from toolkit.shared_batch import Segment, segments_hash, shared_batch_digest
from toolkit.signing import SigningDomain

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
_OVERDUE = re.compile(r"ChainForcedTxOverdue \(0x[0-9a-fA-F]{8}([0-9a-fA-F]{64})")


def overdue_chain(error: str) -> int | None:
    """The chain a `ChainForcedTxOverdue` revert names (None for any other error)."""
    match = _OVERDUE.search(error)
    return int(match.group(1), 16) if match else None


class SharedBatcher:
    def __init__(
        self, batchers: dict[int, Batcher], leading: dict[int, Any], l1: L1Client, private_key: str,
        domain: SigningDomain, peers: list[str],
    ) -> None:
        self.batchers = dict(sorted(batchers.items()))
        self.leading = leading  # chain id -> () -> bool: does this node lead that chain now
        self.l1 = l1
        self.private_key = private_key
        self.domain = domain
        self.peers = peers
        self.posted = 0
        self.last_error: str | None = None
        self.last_gas: int | None = None
        self.bundles: BundleBook | None = None  # markers of included bundles go out in namespace 0
        self._task: asyncio.Task[None] | None = None

    def pending(self) -> list[PendingBatch]:
        """Every led chain's waiting blocks, once any of them is due (chain id order)."""
        led = {chain_id: b for chain_id, b in self.batchers.items() if self.leading[chain_id]()}
        if not any(b.due() for b in led.values()):
            return []
        return [batch for b in led.values() if (batch := b.next_batch(force=True)) is not None]

    async def post_due(self) -> bool:
        batches = self.pending()
        if not batches:
            return False
        marked = self._markers_due(batches)
        if marked:
            data = encode_markers([BundleBook.marker(b) for b in marked])
            batches = [PendingBatch(MARKER_NAMESPACE, 0, 0, 0, data), *batches]
        segments = [Segment.for_data(b.chain_id, b.first, b.last, b.forced_end, b.data) for b in batches]
        digest = shared_batch_digest(self.domain, segments_hash(segments))
        attestations = await collect_signatures(
            self.peers, ATTEST_SHARED_PATH, {"segments": [b.request() for b in batches]}, self.private_key, digest
        )
        try:
            tx_hash, l1_block, gas = await self.l1.post_shared_batch(
                self.private_key, segments, [b.data for b in batches], attestations
            )
        except BatchRejected as exc:
            self.last_error = str(exc)
            overdue = overdue_chain(str(exc))
            for batch in batches:
                if batch.chain_id in self.batchers:
                    self.batchers[batch.chain_id].mark_rejected(batch, str(exc), batch.chain_id == overdue)
            return False
        self.last_error, self.last_gas = None, gas
        self.posted += 1
        for batch in batches:
            if batch.chain_id in self.batchers:
                self.batchers[batch.chain_id].mark_posted(batch, l1_block, tx_hash)
        for bundle in marked:
            bundle.marked = True
        log.info("posted shared batch of %d chains in L1 block %d (gas %d), tx 0x%s",
                 len(batches), l1_block, gas, tx_hash.hex())
        return True

    def _markers_due(self, batches: list[PendingBatch]) -> list[Any]:
        if self.bundles is None:
            return []
        covered = {chain_id: b.last_posted for chain_id, b in self.batchers.items()}
        covered.update({b.chain_id: b.last for b in batches})
        return self.bundles.markers_due(covered)

    async def _loop(self, ready: list[asyncio.Event]) -> None:
        for event in ready:
            await event.wait()
        while True:
            try:
                await self.post_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = str(exc)
                log.warning("shared batch loop: %s", exc)
            await asyncio.sleep(POLL_SECONDS)

    def start(self, ready: list[asyncio.Event]) -> None:
        self._task = asyncio.create_task(self._loop(ready), name="shared-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def status(self) -> dict[str, Any]:
        return {"sharedBatchesPosted": self.posted, "lastSharedBatchError": self.last_error,
                "lastSharedBatchGas": self.last_gas}
