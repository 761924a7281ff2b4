"""Who leads, from L1, and what a node does when that changes.

Each L1 step (`observe`) the node learns the leader for the L1 head, the validator set (whose
signatures gossip accepts) and any SequencerChanged events, which it relays to WebSocket
subscribers (`sequencerChanged`). A keyed node also:
  - syncs the epoch on L1 when it becomes leader, so the rotation event is emitted at once;
  - reports a leader that posted nothing for the liveness timeout (reason `timeout`);
  - when it stops leading, forwards every mempool transaction to the new leader (kept and
    retried while the new leader cannot be reached: none is silently dropped).
When a leader is slashed, every node drops its unsafe blocks above the safe head: they are
from a validator proven dishonest, and the next leader builds from what L1 holds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from toolkit.l1.client import BatchRejected, L1Block, L1Client, Schedule
from toolkit.l2.txpool import TxPool
from toolkit.node.chain_state import ChainState
from toolkit.rpc.events import NoticeEvent

log = logging.getLogger(__name__)

MAX_RECENT_CHANGES = 100


@dataclass
class Leadership:
    chain_id: int
    mode: str
    l1: L1Client
    state: ChainState
    own_address: str | None = None
    own_key: str | None = None
    validator_urls: dict[str, str] = field(default_factory=dict)  # address -> node base URL
    leader: str | None = None
    epoch: int = 0
    epoch_length: int = 1
    validators: list[str] = field(default_factory=list)
    schedule: Schedule | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    forwarded: int = 0
    _events_from: int = 0
    _synced_epoch: int = -1
    _timeout_reported_at: int = -1
    _http: aiohttp.ClientSession | None = None
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def is_leader(self) -> bool:
        return self.own_address is not None and self.leader is not None and self.leader.lower() == self.own_address.lower()

    def url_of(self, address: str | None) -> str | None:
        if address is None:
            return None
        return next((url for a, url in self.validator_urls.items() if a.lower() == address.lower()), None)

    async def observe(self, head: L1Block, start_block: int, pool: TxPool | None) -> None:
        was_leader = self.is_leader
        self.epoch_length = self.epoch_length if self.epoch_length > 1 else int(
            await self.l1.registry.functions.epochLength().call()
        )
        self.epoch = head.number // self.epoch_length
        self.leader = await self.l1.sequencer_for(self.chain_id, head.number)
        self.validators = await self.l1.validator_set(self.chain_id, head.number)
        self.schedule = await self.l1.schedule(self.chain_id)
        await self._relay_changes(max(self._events_from, start_block), head.number)
        if pool is not None and len(pool) and not self.is_leader:
            await self._hand_over(pool)
        if was_leader != self.is_leader:
            log.info("node %s %s leading (leader %s, epoch %d)", self.own_address,
                     "starts" if self.is_leader else "stops", self.leader, self.epoch)
        if self.own_key is not None and self.mode != "single":
            self._maybe_sync_epoch()
            self._maybe_report_timeout(head.number)

    async def _relay_changes(self, first: int, last: int) -> None:
        if first > last:
            return
        for change in await self.l1.sequencer_changes(self.chain_id, first, last):
            self.changes.append(change)
            del self.changes[:-MAX_RECENT_CHANGES]
            self.state.events.emit(NoticeEvent("sequencerChanged", change))
            if change["reason"] == "slashed" and self.state.unsafe_number > self.state.safe_number:
                log.warning("leader %s was slashed: dropping unsafe blocks above the safe head", change["previous"])
                self.state.rewind_unsafe(self.state.safe_number)
        self._events_from = last + 1

    async def _hand_over(self, pool: TxPool) -> None:
        """Forward our mempool to the leader; what cannot be delivered stays for the next try."""
        target = self.url_of(self.leader)
        if target is None:
            return
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        for entries in pool.content().values():
            for entry in entries:
                request = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                           "params": ["0x" + entry.raw.hex()]}
                try:
                    async with self._http.post(target, json=request) as response:
                        reply = await response.json(content_type=None)
                except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                    log.warning("cannot hand transactions to the new leader at %s yet: %s", target, exc)
                    return
                error = reply.get("error", {}).get("message", "")
                if error and "already known" not in error and "nonce too low" not in error:
                    log.warning("new leader refused forwarded tx 0x%s: %s", entry.hash.hex(), error)
                pool.drop(entry.hash)
                self.forwarded += 1

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _maybe_sync_epoch(self) -> None:
        if not self.is_leader or self._synced_epoch == self.epoch:
            return
        if self.schedule is not None and self.schedule.started and self.schedule.epoch == self.epoch:
            self._synced_epoch = self.epoch
            return
        self._synced_epoch = self.epoch
        self._spawn(self._send("syncEpoch", self.chain_id))

    def _maybe_report_timeout(self, head: int) -> None:
        if self.schedule is None or self.is_leader or self._timeout_reported_at >= head - 1:
            return
        timeout = getattr(self, "_timeout", None)
        if timeout is None:
            self._spawn(self._load_timeout())
            return
        epoch_start = self.epoch * self.epoch_length
        last = max(self.schedule.last_activity, epoch_start) if self.schedule.epoch == self.epoch else epoch_start
        if head >= last + timeout:  # mined in block head + 1, past last + timeout
            self._timeout_reported_at = head
            self._spawn(self._send("reportTimeout", self.chain_id))

    async def _load_timeout(self) -> None:
        self._timeout = await self.l1.liveness_timeout()

    async def _send(self, function: str, *args: Any) -> None:
        assert self.own_key is not None
        try:
            await self.l1.send_registry_call(self.own_key, function, *args)
            log.info("sent %s%s to L1", function, args)
        except BatchRejected as exc:
            log.info("%s not needed or refused: %s", function, exc)
        except Exception as exc:
            log.warning("%s failed: %s", function, exc)

    def upcoming(self, count: int = 3) -> list[dict[str, Any]]:
        return [{"epoch": self.epoch + i, "startsAtL1Block": (self.epoch + i) * self.epoch_length} for i in range(1, count + 1)]

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._http is not None:
            await self._http.close()
