"""The sequencer role: what a keyed node adds to a chain follower.

Mempool, block building and signing (through the signing guard, after re-checking on L1 that we
lead), gossip publishing, batches to L1 with attestations, and the mempool handoff while another
node leads. One role drives one chain follower; a node process serving several chains runs one
role per chain over the process's one key and one L1 client.

Loops (asyncio tasks):
  build loop  - a block every `block_time` seconds while we lead, or one per transaction if 0;
  batch loop  - post due batches to L1 while we lead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from eth.abc import SignedTransactionAPI
from eth_utils import to_checksum_address

from toolkit.l2.executor import ExecutedBlock
from toolkit.l2.signed_block import SignedBlock
from toolkit.l2.transactions import InvalidTransaction
from toolkit.l2.txpool import TxPool
from toolkit.node.follower import ChainFollower
from toolkit.node.gossip import GossipPublisher
from toolkit.rpc.errors import SERVER_ERROR, RpcError
from toolkit.rpc.events import BlockEvent, NoticeEvent
from toolkit.sequencer.attestation import collect_attestations
from toolkit.sequencer.batcher import Batcher
from toolkit.sequencer.block_builder import BlockBuilder
from toolkit.sequencer.handoff import MempoolHandoff
from toolkit.sequencer.signing_guard import DoubleSignRefused, SigningGuard

log = logging.getLogger(__name__)

BATCH_POLL_SECONDS = 0.2


class SequencerRole:
    def __init__(self, follower: ChainFollower) -> None:
        config = follower.config
        assert config.private_key is not None and follower.address is not None
        self.follower = follower
        self.config = config
        self.chain_id = follower.chain_id
        self.address: str = follower.address
        self.private_key: str = config.private_key
        self.executor = follower.executor
        self.state = follower.state
        self.leadership = follower.leadership
        self.pool = TxPool(self.executor, censored={to_checksum_address(c) for c in config.censored})
        journal = Path(config.data_dir) / f"signed-blocks-{self.chain_id}.jsonl" if config.data_dir else None
        self.guard = SigningGuard(journal)
        self.builder = BlockBuilder(self.chain_id, self.state, self.pool, self.private_key, follower.domain)
        self.batcher = Batcher(
            self.chain_id, self.state, follower.l1, self.private_key,
            config.batch_max_blocks, config.batch_max_seconds, config.batch_compression,
        )
        self.batcher.on_forced_overdue = self._include_overdue_entries
        self.batcher.derived_l1 = lambda: follower.derivation.l1_cursor
        if follower.mode.attests:
            self.batcher.attest = self._attest
        self.publisher = GossipPublisher(follower.url, config.peers)
        self.state.on_reorg(self.publisher.forget_from)
        self.handoff = MempoolHandoff(self.pool, self.address, follower.url)
        self.handoff.origins.listeners.append(self.note_pending)
        self.on_pending_transaction: list[Any] = []
        follower.events.listen(self._keep_pool_in_step)
        follower.after_l1_step.append(self._note_leader)
        follower.derivation.on_l1_reorg.append(self._after_l1_reorg)
        follower.on_caught_up.append(self._replay_own_blocks)
        self.bidder = follower.mode.bidder(self)  # mode auction: commits, reveals, settles
        self._tx_arrived = asyncio.Event()
        self._last_tick = 0.0  # the wall-clock tick our build loop last built at
        self._refused_height = -1
        self.batching = True  # test control: false holds batches back
        self.held = False  # test control: true while a devnet snapshot or revert is taken
        self._building = asyncio.Lock()  # one block at a time; a hold waits for the one being built
        self._tasks: list[asyncio.Task[None]] = []

    # ----- lifecycle -----
    def start(self) -> None:
        self.handoff.start()
        self._tasks.append(asyncio.create_task(self._build_loop(), name=f"build-{self.chain_id}"))
        if not self.follower.mode.shares_batches:  # otherwise the process's SharedBatcher posts
            self._tasks.append(asyncio.create_task(self._batch_loop(), name=f"batch-{self.chain_id}"))
        if self.bidder is not None:
            self.bidder.start()

    async def stop(self) -> None:
        if self.bidder is not None:
            await self.bidder.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.handoff.close()
        self.guard.close()
        await self.publisher.close()

    # ----- transactions -----
    async def submit_transaction(self, raw: bytes) -> bytes:
        """Take a client's transaction into our pool. While another node leads, the mempool handoff
        carries it there (confirmed, never bounced back): two nodes that briefly each think the other
        leads hold it instead of forwarding it to each other."""
        tx_hash = self.pool.add(raw)
        self.note_pending(tx_hash)
        if not self.leadership.is_leader:
            self.handoff.poke()
        return tx_hash

    def note_pending(self, tx_hash: bytes) -> None:
        """A transaction entered our pool (from a client or handed over by another node)."""
        for notify in self.on_pending_transaction:
            notify(tx_hash)
        self._tx_arrived.set()

    def pending_nonce(self, address: str) -> int:
        return self.pool.pending_nonce(address, self.executor.head)

    def pending_transaction(self, tx_hash: bytes) -> SignedTransactionAPI | None:
        entry = self.pool.get(tx_hash)
        return entry.tx if entry is not None else None

    def _keep_pool_in_step(self, event: BlockEvent | NoticeEvent) -> None:
        """Transactions of blocks that leave the chain go back to the pool; those of new blocks leave it."""
        if not isinstance(event, BlockEvent):
            return
        if event.removed:
            for raw in self.executor.raw_transactions(event.block.hash):
                try:
                    self.pool.add(raw)
                except InvalidTransaction:
                    pass  # already in the new chain, or no longer valid
            self._tx_arrived.set()
            self.handoff.poke()
        else:
            for tx in event.block.transactions:
                self.pool.drop(tx.hash)

    def _note_leader(self) -> None:
        """Tell the mempool handoff who leads (it forwards our pool while that is someone else)."""
        view = self.leadership.view
        if view is None:
            return
        leader = view.leader
        self.handoff.note_leader(f"{view.epoch}:{leader}", leader, self.leadership.url_of(leader),
                                 view.leads(self.address))

    # ----- blocks -----
    async def _build_loop(self) -> None:
        await self.follower.ready.wait()
        while True:
            if not self.leadership.is_leader or self.held:
                await asyncio.sleep(self.config.l1_poll_seconds)
                continue
            if self.config.block_time == 0:
                await self._tx_arrived.wait()
                self._tx_arrived.clear()
                if not self.pool.executable():
                    continue
            else:
                # Header timestamps are whole seconds: the cadence is a grid of wall-clock ticks from our
                # own last one (a block of another leader counts from its timestamp). A late tick does
                # not move the grid, unless we are a whole block time behind (then it starts again).
                block_time = self.config.block_time
                tick = max(self.executor.head.timestamp, self._last_tick) + block_time
                await asyncio.sleep(max(0.0, tick - time.time()))
                self._last_tick = tick if time.time() - tick < block_time else time.time()
            try:
                async with self._building:
                    built = not self.held and await self._build_one()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("building a block failed")
                self.follower.stalls.failed("build", exc)
                built = False
            else:
                if built:
                    self.follower.stalls.progressed("build")
            if not built:
                await asyncio.sleep(self.config.block_time or self.config.l1_poll_seconds)
            elif self.config.block_time == 0 and self.pool.executable():
                self._tx_arrived.set()

    async def _build_one(self) -> bool:
        """Build, sign and publish one block, re-checking on L1 that we lead before each step."""
        view = await self.leadership.refresh()  # right before building
        origin = self.follower.derivation.latest_l1
        if view is None or not view.leads(self.address) or origin is None:
            return False
        if await self._resume_signed_height():
            return True
        if self.guard.signed(self.chain_id, self.executor.head_number + 1) is not None:
            return False  # we signed another block at this height, on another parent: never sign twice
        executed = self.builder.prepare(origin)
        view = await self.leadership.refresh()  # and right before signing
        if view is None or not view.leads(self.address):
            log.info("lost the lead while building block %d: not signing it", executed.number)
            return False
        if bytes(self.executor.head.hash) != bytes(executed.block.header.parent_hash):
            return False  # the head moved while we asked L1 (a block from the leader arrived)
        try:
            signed = self.guard.sign(
                self.chain_id, executed.number, executed.hash,
                lambda: SignedBlock.create(self.follower.domain, self.chain_id, executed, self.private_key),
            )
        except DoubleSignRefused as exc:
            log.error("not building: %s (the chain waits for another leader or our old block)", exc)
            return False
        self.builder.commit(executed)
        self._note_signed(signed)
        self.publisher.publish(signed)
        return True

    def _after_l1_reorg(self, fork_point: int) -> None:
        """An L1 reorg: re-post batches that vanished; our signed blocks above the head (dropped because
        their L1 origin was orphaned) are replaced as below, in `_resume_signed_height`."""
        self.batcher.after_l1_reorg(fork_point)

    # ----- what the process's BundleRunner asks of this chain (toolkit/sequencer/bundles.py) -----
    def leads_now(self) -> bool:
        return self.leadership.is_leader

    async def refresh_lead(self) -> bool:
        view = await self.leadership.refresh()
        return view is not None and view.leads(self.address)

    def can_build_next(self) -> bool:
        """We may build the next height now: caught up, an L1 origin known, never signed there."""
        return (self.follower.ready.is_set() and self.follower.derivation.latest_l1 is not None
                and self.guard.signed(self.chain_id, self.executor.head_number + 1) is None)

    def prepare_with(self, leading: list[bytes]) -> ExecutedBlock | None:
        origin = self.follower.derivation.latest_l1
        return None if origin is None else self.builder.prepare(origin, leading)

    def sign_and_adopt(self, executed: ExecutedBlock) -> None:
        """Sign (through the guard), adopt and gossip a block prepared on our head."""
        signed = self.guard.sign(
            self.chain_id, executed.number, executed.hash,
            lambda: SignedBlock.create(self.follower.domain, self.chain_id, executed, self.private_key),
        )
        self.builder.commit(executed)
        self._note_signed(signed)
        self.publisher.publish(signed)

    async def _resume_signed_height(self) -> bool:
        """If we already signed a block at the next height on our head, adopt that one again."""
        number = self.executor.head_number + 1
        previous = self.guard.signed(self.chain_id, number)
        if previous is None:
            return False
        orphaned = await self.follower.derivation.origin_orphaned(previous.attributes, unread_counts=True)
        if previous.parent_hash != bytes(self.executor.head.hash) or orphaned:
            if not self.follower.mode.stakes:
                # No registry of this mode punishes equivocation, and a sole sequencer that steps aside
                # would halt the chain for good (e.g. derivation forced an entry in under our blocks, or
                # an L1 reorg orphaned their L1 origin).
                self.guard.release_above(self.chain_id, self.executor.head_number,
                                         "our signed blocks there were replaced (no slashing in this mode)"
                                         + (": an L1 reorg orphaned their L1 origin" if orphaned else ""))
                return False
            if self._refused_height != number:
                self._refused_height = number
                log.error("not building block %d: we signed another block there on another parent; the chain "
                          "waits for another leader (liveness timeout) rather than for our equivocation", number)
            return False
        try:
            self.follower.receiver.accept_own(previous)
        except Exception as exc:
            log.warning("our signed block %d no longer executes on our head: %s", number, exc)
            return False
        self.publisher.publish(previous)
        return True

    def _note_signed(self, block: SignedBlock) -> None:
        self.follower.signatures.add(block, self.address)
        if self.follower.watchtower is not None:
            self.follower.watchtower.observe(block, self.address)

    def _replay_own_blocks(self) -> None:
        """After a restart: adopt the blocks we signed before (journal) that extend our chain, so we
        never build those heights anew."""
        for block in self.guard.signed_above(self.chain_id, self.state.unsafe_number):
            try:
                outcome = self.follower.receiver.accept_own(block)
            except Exception as exc:
                log.info("own signed block %d from the journal does not extend our chain: %s", block.number, exc)
                return
            self.publisher.remember(block)
            log.info("replayed own signed block %d from the journal (%s)", block.number, outcome)

    # ----- batches -----
    async def _batch_loop(self) -> None:
        await self.follower.ready.wait()
        while True:
            try:
                if self.leadership.is_leader and self.batching and not self.held:
                    await self.batcher.post_due()
                self.follower.stalls.progressed("batch")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.batcher.last_error = str(exc)
                self.follower.stalls.failed("batch", exc)
                log.warning("batch loop: %s", exc)
            await asyncio.sleep(BATCH_POLL_SECONDS)

    async def _attest(self, request: dict[str, Any]) -> bytes:
        peers = [url for address, url in self.config.validator_urls.items() if address.lower() != self.address.lower()]
        return await collect_attestations(peers, request, self.private_key, self.chain_id, self.follower.domain)

    def _include_overdue_entries(self) -> None:
        """L1 refused our batch for skipping an overdue forced entry: rebuild with it included."""
        if self.builder.ignore_forced:
            log.warning("L1 refused a batch that skips an overdue forced entry: including forced entries again")
        self.builder.ignore_forced = False
        if self.follower.mode.stakes:
            # Re-signing those heights would be slashable equivocation: drop our blocks and step
            # aside; derivation puts the entry in, and another leader builds on from there.
            log.error("not re-signing heights above %d: stepping aside until the chain moves past them",
                      self.state.safe_number)
        else:
            self.guard.release_above(self.chain_id, self.state.safe_number, "L1 refused our batch: ForcedTxOverdue")
        self.state.rewind_unsafe(self.state.safe_number)

    # ----- test controls -----
    async def hold(self, held: bool) -> bool:
        """Build and post nothing (true) until false again; returns once a block being built is done."""
        self.held = held
        async with self._building:
            pass
        return held

    def controls(self) -> dict[str, Any]:
        """The test controls set on this sequencer (a devnet snapshot keeps them)."""
        return {"censored": sorted(self.pool.censored), "ignoreForced": self.builder.ignore_forced,
                "batching": self.batching}

    def revert_to(self, number: int, controls: dict[str, Any]) -> None:
        """A devnet revert to L2 block `number` (the chain already rewound): what we signed above it and
        what our pool holds never happened; the test controls go back as they were."""
        self.guard.revert_above(self.chain_id, number)
        self.pool.clear()
        self._refused_height = -1
        self.set_censored(list(controls["censored"]))
        self.builder.ignore_forced = bool(controls["ignoreForced"])
        self.batching = bool(controls["batching"])

    def set_censored(self, addresses: list[str]) -> list[str]:
        """Replace the set of L2 senders whose transactions this sequencer leaves out."""
        self.pool.censored = {to_checksum_address(a) for a in addresses}
        return sorted(self.pool.censored)

    def set_batching(self, enabled: bool) -> bool:
        """Hold batches back (false) or post them again (true): unsafe blocks that never reach L1."""
        self.batching = enabled
        log.warning("batch posting %s (test control)", "resumed" if enabled else "paused")
        return enabled

    def set_ignore_forced(self, enabled: bool) -> bool:
        self.builder.ignore_forced = enabled
        return enabled

    def equivocate(self) -> dict[str, Any]:
        """Sign a second block at the head's height (test hook for equivocation slashing)."""
        if not self.leadership.is_leader:
            raise RpcError(SERVER_ERROR, "only the current leader can equivocate")
        head = self.executor.head
        original = self.publisher.signed_blocks.get(head.block_number)
        if original is None:
            raise RpcError(SERVER_ERROR, "no signed block at the head yet")
        conflicting = self.builder.conflicting_block(head)
        # a real equivocator shows the second block to its peers: the watchtowers see both
        self.publisher.publish(conflicting, remember=False)
        return {"chainId": self.chain_id, "number": head.block_number,
                "blocks": [original.to_json(), conflicting.to_json()]}

    def status(self) -> dict[str, Any]:
        return {
            "blocksBuilt": self.builder.blocks_built,
            "batchesPosted": self.batcher.batches_posted,
            "lastPostedL2": self.batcher.last_posted,
            "lastBatchError": self.batcher.last_error,
            "overdueRejections": self.batcher.overdue_rejections,
            "mempool": len(self.pool),
            "censored": sorted(self.pool.censored),
            "ignoreForced": self.builder.ignore_forced,
            "batching": self.batching,
            "leading": self.leadership.is_leader,
            "handoff": self.handoff.describe(),
            "signedHeights": len(self.guard.signed_above(self.chain_id, self.state.safe_number)),
        }
