"""Cross-rollup bundles (mode shared): legs on several chains that land together or not at all.

`rollup_sendBundle({txs: [raw, ...], atomicity: "inclusion" | "execution"})` on the leader's node
(any chain's gateway routes it there) puts a bundle in the process's `BundleBook`. The `BundleRunner`
builds one block per chain the bundle touches in one step of the event loop (nothing else runs in
between): each block starts with that chain's legs, in the given order, then the chain's mempool.
- inclusion: every leg is in its block (it may revert), or no block is signed and the bundle is dropped;
- execution: additionally every leg succeeds (receipt status 1), or none lands.
The blocks are signed and adopted only once every leg passed, so a bundle never splits across
blocks built at different times, nor across leaders: a leader that loses the lead before the
bundle landed drops it whole (`dropped`, reason) for the client to send to the new leader.
`rollup_getBundle(id)` says pending / included (slot, block numbers, tx hashes) / dropped (reason).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import rlp
from eth_utils import keccak

from toolkit.bundle_markers import BundleMarker, MarkedLeg
from toolkit.l2.executor import ExecutedBlock
from toolkit.l2.transactions import InvalidTransaction, decode_raw_transaction

log = logging.getLogger(__name__)

ATOMICITIES = ("inclusion", "execution")
MAX_LEGS = 16
BUNDLE_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.1


class BundleRefused(ValueError):
    """A bundle that cannot be taken (bad legs, unknown chain, not the leader): nothing was kept."""


@dataclass(frozen=True)
class Leg:
    chain_id: int
    raw: bytes
    tx_hash: bytes


@dataclass
class Bundle:
    bundle_id: bytes
    legs: tuple[Leg, ...]
    atomicity: str
    received: float = field(default_factory=time.monotonic)
    status: str = "pending"
    reason: str | None = None
    slot: int | None = None
    blocks: dict[int, int] = field(default_factory=dict)
    marked: bool = False  # its marker went to L1 in a shared batch (namespace 0)

    @property
    def chain_ids(self) -> list[int]:
        return sorted({leg.chain_id for leg in self.legs})

    def to_json(self) -> dict[str, Any]:
        return {
            "bundleId": "0x" + self.bundle_id.hex(), "atomicity": self.atomicity, "status": self.status,
            "reason": self.reason, "slot": self.slot,
            "blocks": {str(c): n for c, n in sorted(self.blocks.items())},
            "legs": [{"chainId": leg.chain_id, "txHash": "0x" + leg.tx_hash.hex()} for leg in self.legs],
        }


def parse_bundle(txs: list[bytes], atomicity: str, chain_ids: list[int]) -> Bundle:
    """Check a bundle's shape and find each leg's chain among `chain_ids` (BundleRefused otherwise)."""
    if atomicity not in ATOMICITIES:
        raise BundleRefused(f"atomicity must be one of {', '.join(ATOMICITIES)}, not {atomicity!r}")
    if not 1 <= len(txs) <= MAX_LEGS:
        raise BundleRefused(f"a bundle holds 1 to {MAX_LEGS} transactions, not {len(txs)}")
    legs = []
    for index, raw in enumerate(txs):
        problems = []
        for chain_id in chain_ids:
            try:
                tx = decode_raw_transaction(raw, chain_id)
            except InvalidTransaction as exc:
                problems.append(str(exc))
                continue
            legs.append(Leg(chain_id, raw, bytes(tx.hash)))
            break
        else:
            raise BundleRefused(f"leg {index} is no valid transaction for chains {chain_ids}: {problems[-1]}")
    if len({leg.tx_hash for leg in legs}) != len(legs):
        raise BundleRefused("a transaction appears twice in the bundle")
    bundle_id = keccak(rlp.encode([atomicity.encode(), list(txs)]))
    return Bundle(bundle_id, tuple(legs), atomicity)


class BundleBook:
    """The process's bundles by id (kept after they settle, for rollup_getBundle)."""

    def __init__(self) -> None:
        self.bundles: dict[bytes, Bundle] = {}

    def add(self, bundle: Bundle) -> Bundle:
        known = self.bundles.get(bundle.bundle_id)
        if known is not None and known.status != "dropped":
            return known
        self.bundles[bundle.bundle_id] = bundle
        return bundle

    def pending(self) -> list[Bundle]:
        return [b for b in self.bundles.values() if b.status == "pending"]

    def get(self, bundle_id: bytes) -> Bundle | None:
        return self.bundles.get(bundle_id)

    def markers_due(self, covered: dict[int, int]) -> list[Bundle]:
        """Included bundles not yet marked on L1 whose every block is within `covered` (chain -> last block)."""
        return [b for b in self.bundles.values() if b.status == "included" and not b.marked
                and all(n <= covered.get(c, -1) for c, n in b.blocks.items())]

    @staticmethod
    def marker(bundle: Bundle) -> BundleMarker:
        return BundleMarker(bundle.bundle_id, bundle.atomicity, tuple(
            MarkedLeg(leg.chain_id, bundle.blocks[leg.chain_id], leg.tx_hash) for leg in bundle.legs))


class ChainSequencer(Protocol):
    """What the runner needs of one chain's sequencer role."""

    def leads_now(self) -> bool: ...

    async def refresh_lead(self) -> bool: ...

    def can_build_next(self) -> bool: ...

    def prepare_with(self, leading: list[bytes]) -> ExecutedBlock | None: ...

    def sign_and_adopt(self, executed: ExecutedBlock) -> None: ...


class BundleRunner:
    def __init__(self, book: BundleBook, chains: dict[int, ChainSequencer]) -> None:
        self.book = book
        self.chains = chains
        self.slots = 0
        self.split = False  # test hook (devnet_splitBundles): sign only the first chain's block, claim all
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        for bundle in self.book.pending():
            await self._try(bundle)

    async def _try(self, bundle: Bundle) -> None:
        chains = bundle.chain_ids
        if any(c not in self.chains for c in chains):
            return self._drop(bundle, "this node does not sequence every chain of the bundle")
        leads = [await self.chains[c].refresh_lead() for c in chains]
        if not all(leads):
            return self._drop(bundle, "the leader changed before the bundle landed; send it again (gateway)")
        if time.monotonic() - bundle.received > BUNDLE_TIMEOUT_SECONDS:
            return self._drop(bundle, f"not built within {BUNDLE_TIMEOUT_SECONDS:.0f} s")
        # from here on no await: no other block of these chains can be built in between
        if not all(self.chains[c].leads_now() and self.chains[c].can_build_next() for c in chains):
            return None  # try again on the next step
        prepared: dict[int, ExecutedBlock] = {}
        for chain_id in chains:
            legs = [leg.raw for leg in bundle.legs if leg.chain_id == chain_id]
            executed = self.chains[chain_id].prepare_with(legs)
            if executed is None:
                return None
            prepared[chain_id] = executed
        problem = self._check(bundle, prepared)
        if problem is not None:
            return self._drop(bundle, problem)
        self.slots += 1
        for chain_id in chains[:1] if self.split else chains:
            self.chains[chain_id].sign_and_adopt(prepared[chain_id])
        bundle.status, bundle.slot = "included", self.slots
        bundle.blocks = {c: e.number for c, e in prepared.items()}
        log.info("bundle 0x%s (%s) included in slot %d: blocks %s", bundle.bundle_id.hex(), bundle.atomicity,
                 self.slots, bundle.blocks)
        return None

    @staticmethod
    def _check(bundle: Bundle, prepared: dict[int, ExecutedBlock]) -> str | None:
        for index, leg in enumerate(bundle.legs):
            executed = prepared[leg.chain_id]
            hashes = [bytes(tx.hash) for tx in executed.block.transactions]
            if leg.tx_hash not in hashes:
                skipped = next((s.reason for s in executed.skipped if keccak(s.raw) == leg.tx_hash), "not included")
                return f"leg {index} (chain {leg.chain_id}) would not be included: {skipped}"
            if bundle.atomicity == "execution" and not _succeeded(executed, hashes.index(leg.tx_hash)):
                return f"leg {index} (chain {leg.chain_id}) would revert"
        return None

    def _drop(self, bundle: Bundle, reason: str) -> None:
        bundle.status, bundle.reason = "dropped", reason
        log.info("bundle 0x%s dropped: %s", bundle.bundle_id.hex(), reason)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bundle runner step failed")
            await asyncio.sleep(POLL_SECONDS)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="bundles")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def _succeeded(executed: ExecutedBlock, index: int) -> bool:
    receipt = executed.receipts[index]
    return bytes(receipt.state_root) == b"\x01"


