"""Who leads a chain, from one consistent L1 snapshot, and what a node does when that changes.

Each L1 step (`observe`) reads the leader, validator set and schedule at one L1 block pinned by
hash (`Mode.read_view`), and the SequencerChanged events up to that same block, and applies them
at once. `refresh` re-reads the view when L1 moved; the build loop calls it right before it
builds and again right before it signs, so a node never signs on a stale view of who leads.

A keyed node also:
  - syncs the epoch on L1 when it becomes leader, so the rotation event is emitted at once;
  - reports a leader that posted nothing for the liveness timeout (reason `timeout`).
Listeners hear every change of the leader (the mempool handoff follows them).
When a validator is slashed, every node drops the unsafe blocks that validator signed (from the
first one on): they come from a validator proven dishonest; blocks other validators signed stay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from toolkit.l1.client import BatchRejected, L1Block, L1Client
from toolkit.modes import LeaderView, Mode
from toolkit.node.block_signatures import BlockSignatures
from toolkit.node.chain_state import ChainState
from toolkit.rpc.events import NoticeEvent
from toolkit.sequencer.leader_history import LeaderHistory

log = logging.getLogger(__name__)

MAX_RECENT_CHANGES = 100


class Leadership:
    def __init__(
        self,
        chain_id: int,
        mode: Mode,
        l1: L1Client,
        state: ChainState,
        signatures: BlockSignatures,
        own_address: str | None = None,
        own_key: str | None = None,
        validator_urls: dict[str, str] | None = None,
        start_block: int = 0,
    ) -> None:
        self.chain_id = chain_id
        self.mode = mode
        self.l1 = l1
        self.state = state
        self.signatures = signatures
        self.own_address = own_address
        self.own_key = own_key
        self.validator_urls = dict(validator_urls or {})  # address -> node base URL
        self.view: LeaderView | None = None
        self.history = LeaderHistory()  # who led from which L1 block on: gossip checks block signers
        self._led_at: dict[bytes, str | None] = {}  # leader read at L1 blocks before the history starts
        self.changes: list[dict[str, Any]] = []
        self.listeners: list[Callable[[LeaderView], None]] = []
        self._events_from = start_block
        self._synced_epoch = -1
        self._timeout_reported_at = -1
        self._after_reorg = False  # the next view may be at a lower L1 block than the current one
        self._background: set[asyncio.Task[Any]] = set()

    # ----- the current view -----
    @property
    def leader(self) -> str | None:
        return self.view.leader if self.view else None

    @property
    def epoch(self) -> int:
        return self.view.epoch if self.view else 0

    @property
    def validators(self) -> list[str]:
        return list(self.view.validators) if self.view else []

    @property
    def is_leader(self) -> bool:
        return self.view is not None and self.view.leads(self.own_address)

    def url_of(self, address: str | None) -> str | None:
        if address is None:
            return None
        return next((url for a, url in self.validator_urls.items() if a.lower() == address.lower()), None)

    # ----- reading L1 -----
    async def observe(self, head: L1Block) -> None:
        """One L1 step: view and events at `head`, applied together."""
        view = await self.mode.read_view(self.l1.registry, self.chain_id, head)
        changes = []
        if self._events_from <= head.number:
            changes = await self.l1.sequencer_changes(self.chain_id, self._events_from, head.number)
        self._apply(view)
        for change in changes:
            self._relay(change)
        self._events_from = max(self._events_from, head.number + 1)
        if self.own_key is not None and self.mode.rotates and self.view is view:
            self._maybe_sync_epoch(view)
            self._maybe_report_timeout(view)

    async def refresh(self) -> LeaderView | None:
        """The view at the current L1 head (re-read only when L1 moved since the last one)."""
        head = await self.l1.head()
        if self.view is None or head.hash != self.view.l1_block.hash:
            self._apply(await self.mode.read_view(self.l1.registry, self.chain_id, head))
        return self.view

    async def led_since(self, address: str, l1_number: int) -> bool:
        """Whether `address` led this chain at some L1 block from `l1_number` (a block's L1 origin) to the
        head: what gossip requires of a block's signer. Reads L1 again only when the record says no."""
        for attempt in range(2):
            if self.history.led_from(address, l1_number):
                return True
            if not self.history.covers(l1_number) and await self._leader_at(l1_number) == address.lower():
                return True  # an origin older than anything this node read (it restarted since)
            if attempt == 0:
                await self.refresh()  # the signer may have taken the lead at an L1 block we have not read
        return False

    async def _leader_at(self, l1_number: int) -> str | None:
        block = await self.l1.block(l1_number)
        if block.hash not in self._led_at:
            view = await self.mode.read_view(self.l1.registry, self.chain_id, block)
            self._led_at[block.hash] = view.leader.lower() if view.leader else None
            while len(self._led_at) > 256:
                del self._led_at[next(iter(self._led_at))]
        return self._led_at[block.hash]

    def after_l1_reorg(self, fork_point: int) -> None:
        """L1 blocks above `fork_point` were orphaned: the view pinned to one of them, the changes read
        from them and the epoch syncs and timeout reports sent in them no longer hold."""
        self._after_reorg = True
        self.history.forget_after(fork_point)
        self._events_from = min(self._events_from, fork_point + 1)
        self.changes = [change for change in self.changes if change["l1Block"] <= fork_point]
        self._synced_epoch = -1
        self._timeout_reported_at = -1

    def _apply(self, view: LeaderView) -> None:
        previous = self.view
        if previous is not None and view.l1_block.number < previous.l1_block.number and not self._after_reorg:
            return  # an older read finished after a newer one
        self._after_reorg = False
        self.view = view
        self.history.record(view.l1_block.number, view.leader)
        if previous is None or (previous.leader or "").lower() != (view.leader or "").lower():
            log.info("chain %d: leader %s at L1 block %d (epoch %d)%s", self.chain_id, view.leader,
                     view.l1_block.number, view.epoch, " - that is us" if view.leads(self.own_address) else "")
            for listener in self.listeners:
                listener(view)

    def _relay(self, change: dict[str, Any]) -> None:
        self.changes.append(change)
        del self.changes[:-MAX_RECENT_CHANGES]
        self.state.events.emit(NoticeEvent("sequencerChanged", change))
        if change["reason"] == "slashed":
            self._drop_blocks_signed_by(change["previous"])

    def _drop_blocks_signed_by(self, validator: str) -> None:
        executor = self.state.executor
        for number in range(self.state.safe_number + 1, self.state.unsafe_number + 1):
            block_hash = executor.canonical_hash(number)
            signature = self.signatures.by_hash(block_hash) if block_hash is not None else None
            if signature is not None and signature.signer.lower() == validator.lower():
                log.warning("validator %s was slashed: dropping the unsafe blocks it signed, from %d on",
                            validator, number)
                self.state.rewind_unsafe(number - 1)
                return

    # ----- keyed nodes keep L1's schedule moving -----
    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _maybe_sync_epoch(self, view: LeaderView) -> None:
        if not view.leads(self.own_address) or self._synced_epoch == view.epoch:
            return
        self._synced_epoch = view.epoch
        if view.schedule is not None and view.schedule.started and view.schedule.epoch == view.epoch:
            return
        self._spawn(self._send("syncEpoch", self.chain_id))

    def _maybe_report_timeout(self, view: LeaderView) -> None:
        head = view.l1_block.number
        if view.schedule is None or view.liveness_timeout is None or view.leads(self.own_address):
            return
        if self._timeout_reported_at >= head - 1:
            return
        epoch_start = view.epoch * view.epoch_length
        schedule = view.schedule
        last = max(schedule.last_activity, epoch_start) if schedule.epoch == view.epoch else epoch_start
        if head >= last + view.liveness_timeout:  # mined in block head + 1, past last + timeout
            self._timeout_reported_at = head
            self._spawn(self._send("reportTimeout", self.chain_id))

    async def _send(self, function: str, *args: Any) -> None:
        assert self.own_key is not None
        try:
            await self.l1.send_registry_call(self.own_key, function, *args)
            log.info("sent %s%s to L1", function, args)
        except BatchRejected as exc:
            log.info("%s not needed or refused: %s", function, exc)
        except Exception as exc:
            log.warning("%s failed: %s", function, exc)

    def sequencer_info(self) -> dict[str, Any]:
        return {
            "sequencer": self.leader,
            "epoch": self.epoch,
            "l1Block": self.view.l1_block.number if self.view else None,
            "validators": self.validators,
            **self.mode.sequencer_info(self.view),
            "recentChanges": self.changes[-10:],
        }

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
