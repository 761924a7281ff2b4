"""One L2 node: executor + chain state + derivation, and when it sequences, mempool + builder + batcher.

Loops (asyncio tasks):
  l1 loop      - follow L1: derivation step, L1 head for block origins, the sequencer L1 names;
  build loop   - (sequencer) a block every `block_time` seconds, or one per transaction if 0;
  batch loop   - (sequencer) post due batches to L1.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
from eth.abc import SignedTransactionAPI
from eth_account import Account
from eth_utils import to_checksum_address

from toolkit.derivation import Derivation
from toolkit.l1.client import L1Block, L1Client
from toolkit.l2.executor import BlockAttributes, L2Executor
from toolkit.l2.signed_block import SignedBlock
from toolkit.l2.transactions import InvalidTransaction
from toolkit.l2.txpool import TxPool
from toolkit.modes import mode_named
from toolkit.node.block_signatures import BlockSignatures
from toolkit.node.chain_state import ChainState
from toolkit.node.config import NodeConfig
from toolkit.node.gossip import GossipPublisher, GossipReceiver
from toolkit.rpc.errors import SERVER_ERROR, RpcError
from toolkit.rpc.events import BlockEvent, ChainEvents, NoticeEvent
from toolkit.sequencer.attestation import collect_attestations
from toolkit.sequencer.batcher import Batcher
from toolkit.sequencer.block_builder import BlockBuilder
from toolkit.sequencer.handoff import MempoolHandoff
from toolkit.sequencer.leadership import Leadership
from toolkit.sequencer.signing_guard import DoubleSignRefused, SigningGuard
from toolkit.sequencer.watchtower import Watchtower
from toolkit.signing import SigningDomain

log = logging.getLogger(__name__)

BATCH_POLL_SECONDS = 0.2


class L2Node:
    def __init__(self, config: NodeConfig, l1: L1Client | None = None) -> None:
        self.config = config
        self.chain_id = config.chain.chain_id
        self.executor = L2Executor(config.chain)
        self.events = ChainEvents()
        self.state = ChainState(self.executor, self.events)
        self.mode = mode_named(config.mode)
        # one L1 client per process: the chains a process serves share its L1 key's nonces
        self.l1 = l1 or L1Client(config.l1_rpc_url, config.inbox_address, config.registry_address,
                                 self.mode.registry_contract)
        self.derivation = Derivation(self.chain_id, self.state, self.l1, config.l1_start_block)
        self.signatures = BlockSignatures()
        self.domain = SigningDomain(config.l1_chain_id, config.inbox_address)
        self.receiver = GossipReceiver(self.chain_id, self.state, self.domain)
        self.receiver.on_signed.append(self.signatures.add)
        self.l1_head: L1Block | None = None
        self.address = Account.from_key(config.private_key).address if config.private_key else None
        self.leadership = Leadership(
            self.chain_id, self.mode, self.l1, self.state, self.signatures, self.address, config.private_key,
            dict(config.validator_urls), config.l1_start_block,
        )
        self.watchtower: Watchtower | None = None
        if self.mode.stakes and config.watchtower:
            self.watchtower = Watchtower(self.chain_id, self.l1, config.private_key or config.reporter_key,
                                         self.address)
            self.receiver.on_seen.append(self.watchtower.observe)
        self.receiver.view = lambda: self.leadership.view
        self.guard: SigningGuard | None = None
        self._refused_height = -1
        self.started_at = time.time()
        self.pool: TxPool | None = None
        self.builder: BlockBuilder | None = None
        self.batcher: Batcher | None = None
        self.publisher: GossipPublisher | None = None
        self.handoff: MempoolHandoff | None = None
        self.url = f"http://{config.host}:{config.port}"
        if config.role == "sequencer":
            assert config.private_key is not None
            self.pool = TxPool(self.executor, censored={to_checksum_address(c) for c in config.censored})
            journal = Path(config.data_dir) / f"signed-blocks-{self.chain_id}.jsonl" if config.data_dir else None
            self.guard = SigningGuard(journal)
            self.builder = BlockBuilder(self.chain_id, self.state, self.pool, config.private_key, self.domain)
            self.batcher = Batcher(
                self.chain_id, self.state, self.l1, config.private_key,
                config.batch_max_blocks, config.batch_max_seconds, config.batch_compression,
            )
            self.publisher = GossipPublisher(self.url, config.peers)
            assert self.address is not None
            self.handoff = MempoolHandoff(self.pool, self.address, self.url)
            self.handoff.origins.listeners.append(self._note_pending)
            self.state.on_reorg(self.publisher.forget_from)
            self.batcher.on_forced_overdue = self._include_overdue_entries
            if self.mode.attests:
                self.batcher.attest = self._attest
        if self.pool is not None:
            self.events.listen(self._keep_pool_in_step)
        self._tx_arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None
        self.ready = asyncio.Event()
        self.on_pending_transaction: list[Any] = []

    # ----- NodeView for the RPC -----
    @property
    def safe_number(self) -> int:
        return self.state.safe_number

    @property
    def finalized_number(self) -> int:
        return self.state.finalized_number

    @property
    def is_sequencer(self) -> bool:
        return self.builder is not None

    @property
    def sequencer_address(self) -> str | None:
        return self.leadership.leader

    @property
    def epoch(self) -> int:
        return self.leadership.epoch

    async def _attest(self, request: dict[str, Any]) -> bytes:
        assert self.config.private_key is not None
        peers = [url for address, url in self.config.validator_urls.items()
                 if self.address is None or address.lower() != self.address.lower()]
        return await collect_attestations(peers, request, self.config.private_key, self.chain_id, self.domain)

    async def submit_transaction(self, raw: bytes) -> bytes:
        if self.pool is None or not self.leadership.is_leader:
            return await self._forward_transaction(raw)
        tx_hash = self.pool.add(raw)
        self._note_pending(tx_hash)
        return tx_hash

    def _note_pending(self, tx_hash: bytes) -> None:
        """A transaction entered our pool (from a client or handed over by another node)."""
        for notify in self.on_pending_transaction:
            notify(tx_hash)
        self._tx_arrived.set()

    async def _forward_transaction(self, raw: bytes) -> bytes:
        target = self.leadership.url_of(self.leadership.leader) or self.config.sequencer_url
        if not target or target == self.url:
            raise RpcError(SERVER_ERROR, "this node does not sequence and knows no sequencer to forward to")
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        request = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]}
        try:
            async with self._http.post(target, json=request) as response:
                reply = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise RpcError(SERVER_ERROR, f"sequencer unreachable, transaction not accepted: {exc}") from exc
        if "error" in reply:
            raise RpcError(reply["error"].get("code", SERVER_ERROR), reply["error"].get("message", "rejected"))
        return bytes.fromhex(reply["result"][2:])

    def pending_nonce(self, address: str) -> int:
        if self.pool is None:
            return self.executor.nonce(address, self.executor.head)
        return self.pool.pending_nonce(address, self.executor.head)

    def pending_transaction(self, tx_hash: bytes) -> SignedTransactionAPI | None:
        entry = self.pool.get(tx_hash) if self.pool is not None else None
        return entry.tx if entry is not None else None

    def _keep_pool_in_step(self, event: BlockEvent | NoticeEvent) -> None:
        """Transactions of blocks that leave the chain go back to the pool; those of new blocks leave it."""
        if not isinstance(event, BlockEvent) or self.pool is None:
            return
        if event.removed:
            for raw in self.executor.raw_transactions(event.block.hash):
                try:
                    self.pool.add(raw)
                except InvalidTransaction:
                    pass  # already in the new chain, or no longer valid
            self._tx_arrived.set()
            if self.handoff is not None:
                self.handoff.poke()
        else:
            for tx in event.block.transactions:
                self.pool.drop(tx.hash)

    def _include_overdue_entries(self) -> None:
        """L1 refused our batch for skipping an overdue forced entry: rebuild with it included."""
        assert self.builder is not None
        if self.builder.ignore_forced:
            log.warning("L1 refused a batch that skips an overdue forced entry: including forced entries again")
        self.builder.ignore_forced = False
        if self.guard is not None and self.mode.stakes:
            # Re-signing those heights would be slashable equivocation: drop our blocks and step
            # aside; derivation puts the entry in, and another leader builds on from there.
            log.error("not re-signing heights above %d: stepping aside until the chain moves past them",
                      self.state.safe_number)
        elif self.guard is not None:
            self.guard.release_above(self.chain_id, self.state.safe_number, "L1 refused our batch: ForcedTxOverdue")
        self.state.rewind_unsafe(self.state.safe_number)

    def set_censored(self, addresses: list[str]) -> list[str]:
        """Replace the set of L2 senders whose transactions this sequencer leaves out."""
        if self.pool is None:
            raise RpcError(SERVER_ERROR, "this node does not sequence")
        self.pool.censored = {to_checksum_address(a) for a in addresses}
        return sorted(self.pool.censored)

    def set_ignore_forced(self, enabled: bool) -> bool:
        if self.builder is None:
            raise RpcError(SERVER_ERROR, "this node does not sequence")
        self.builder.ignore_forced = enabled
        return enabled

    def sequencer_info(self) -> dict[str, Any]:
        return self.leadership.sequencer_info()

    def block_signature(self, block_hash: bytes) -> dict[str, Any] | None:
        signature = self.signatures.by_hash(block_hash)
        return signature.to_json() if signature is not None else None

    def equivocate(self) -> dict[str, Any]:
        """Sign a second block at the head's height (test hook for equivocation slashing)."""
        if self.builder is None or self.publisher is None or not self.leadership.is_leader:
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

    def forced_queue_status(self) -> list[dict[str, Any]]:
        l1_head = self.derivation.l1_cursor
        return self.state.forced_queue.describe(l1_head, self.state.safe_number)

    # ----- lifecycle -----
    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._l1_loop(), name="l1"))
        if self.handoff is not None:
            self.handoff.start()
        if self.is_sequencer:
            self._tasks.append(asyncio.create_task(self._build_loop(), name="build"))
            self._tasks.append(asyncio.create_task(self._batch_loop(), name="batch"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.receiver.close()
        await self.leadership.close()
        if self.handoff is not None:
            await self.handoff.close()
        if self.watchtower is not None:
            await self.watchtower.close()
        if self.guard is not None:
            self.guard.close()
        if self.publisher is not None:
            await self.publisher.close()
        if self._http is not None:
            await self._http.close()

    async def _l1_loop(self) -> None:
        while True:
            try:
                more = await self.derivation.step()
                self.l1_head = await self.l1.head()
                await self.leadership.observe(self.l1_head)
                self._note_leader()
                if self.watchtower is not None:
                    await self.watchtower.check_censorship(len(self.state.forced_queue.entries))
                if not more and not self.ready.is_set():
                    self._replay_own_blocks()
                    self.ready.set()
                    log.info("node %s caught up with L1 at block %d", self.config.name, self.l1_head.number)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # L1 down or a bug: keep serving, retry
                log.warning("L1 loop: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
                more = False
            if not more:
                await asyncio.sleep(self.config.l1_poll_seconds)

    async def _build_loop(self) -> None:
        assert self.builder is not None and self.pool is not None
        await self.ready.wait()
        while True:
            if not self.leadership.is_leader:
                await asyncio.sleep(self.config.l1_poll_seconds)
                continue
            if self.config.block_time == 0:
                await self._tx_arrived.wait()
                self._tx_arrived.clear()
                if not self.pool.executable():
                    continue
            else:
                next_tick = self.executor.head.timestamp + self.config.block_time
                await asyncio.sleep(max(0.0, next_tick - time.time()))
            try:
                built = await self._build_one()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("building a block failed")
                built = False
            if not built:
                await asyncio.sleep(self.config.block_time or self.config.l1_poll_seconds)
            elif self.config.block_time == 0 and self.pool.executable():
                self._tx_arrived.set()

    async def _build_one(self) -> bool:
        """Build, sign and publish one block, re-checking on L1 that we lead before each step."""
        assert self.builder is not None and self.publisher is not None and self.guard is not None
        view = await self.leadership.refresh()  # right before building
        origin = self.derivation.latest_l1
        if view is None or not view.leads(self.address) or origin is None:
            return False
        if self._resume_signed_height():
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
        assert self.config.private_key is not None
        try:
            signed = self.guard.sign(
                self.chain_id, executed.number, executed.hash,
                lambda: SignedBlock.create(self.domain, self.chain_id, executed, self.config.private_key),
            )
        except DoubleSignRefused as exc:
            log.error("not building: %s (the chain waits for another leader or our old block)", exc)
            return False
        self.builder.commit(executed)
        self._note_signed(signed)
        self.publisher.publish(signed)
        return True

    def _resume_signed_height(self) -> bool:
        """If we already signed a block at the next height on our head, adopt that one again."""
        assert self.guard is not None and self.publisher is not None
        number = self.executor.head_number + 1
        previous = self.guard.signed(self.chain_id, number)
        if previous is None:
            return False
        if previous.parent_hash != bytes(self.executor.head.hash):
            if self._refused_height != number:
                self._refused_height = number
                log.error("not building block %d: we signed another block there on another parent; the chain "
                          "waits for another leader (liveness timeout) rather than for our equivocation", number)
            return False
        try:
            self.receiver.accept_own(previous)
        except Exception as exc:
            log.warning("our signed block %d no longer executes on our head: %s", number, exc)
            return False
        self.publisher.publish(previous)
        return True

    def _note_leader(self) -> None:
        """Tell the mempool handoff who leads (it forwards our pool while that is someone else)."""
        view = self.leadership.view
        if self.handoff is None or view is None:
            return
        leader = view.leader
        self.handoff.note_leader(f"{view.epoch}:{leader}", leader, self.leadership.url_of(leader),
                                 view.leads(self.address))

    def _note_signed(self, block: SignedBlock) -> None:
        assert self.address is not None
        self.signatures.add(block, self.address)
        if self.watchtower is not None:
            self.watchtower.observe(block, self.address)

    def _replay_own_blocks(self) -> None:
        """After a restart: adopt the blocks we signed before (journal) that extend our chain, so we
        never build those heights anew."""
        if self.guard is None:
            return
        for block in self.guard.signed_above(self.chain_id, self.state.unsafe_number):
            try:
                outcome = self.receiver.accept_own(block)
            except Exception as exc:
                log.info("own signed block %d from the journal does not extend our chain: %s", block.number, exc)
                return
            if self.publisher is not None:
                self.publisher.remember(block)
            log.info("replayed own signed block %d from the journal (%s)", block.number, outcome)

    async def _batch_loop(self) -> None:
        assert self.batcher is not None
        await self.ready.wait()
        while True:
            try:
                if self.leadership.is_leader:
                    await self.batcher.post_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.batcher.last_error = str(exc)
                log.warning("batch loop: %s", exc)
            await asyncio.sleep(BATCH_POLL_SECONDS)

    # ----- status -----
    def sync_status(self) -> dict[str, Any]:
        def head(number: int) -> dict[str, Any]:
            header = self.executor.header_by_number(number)
            attributes = BlockAttributes.from_header(header)
            return {
                "number": number,
                "hash": "0x" + bytes(header.hash).hex(),
                "timestamp": header.timestamp,
                "l1origin": {"number": attributes.l1_origin_number, "hash": "0x" + attributes.l1_origin_hash.hex()},
            }

        status: dict[str, Any] = {
            "node": self.config.name,
            "role": self.config.role,
            "address": self.address,
            "mode": self.config.mode,
            "chainId": self.chain_id,
            "unsafeL2": head(self.state.unsafe_number),
            "safeL2": head(self.state.safe_number),
            "finalizedL2": head(self.state.finalized_number),
            "headL1": {"number": self.l1_head.number, "hash": "0x" + self.l1_head.hash.hex()} if self.l1_head else None,
            "derivedL1": self.derivation.l1_cursor,
            "batchesDerived": self.derivation.batches_derived,
            "batchesSkipped": len(self.derivation.skipped),
            "blocksForcedByDerivation": self.derivation.blocks_forced,
            "forcedQueue": {"length": len(self.state.forced_queue.entries), "safeEnd": self.state.safe_forced_end},
            "skippedBatches": [
                {"l1TxHash": b.l1_tx_hash, "l1Block": b.l1_block, "reason": b.reason}
                for b in self.derivation.skipped[-20:]
            ],
            "reorgs": self.state.reorg_count,
            "watchtower": self.watchtower.evidence[-20:] if self.watchtower is not None else None,
            "ready": self.ready.is_set(),
        }
        if self.batcher is not None and self.builder is not None and self.pool is not None:
            status["sequencing"] = {
                "blocksBuilt": self.builder.blocks_built,
                "batchesPosted": self.batcher.batches_posted,
                "lastPostedL2": self.batcher.last_posted,
                "lastBatchError": self.batcher.last_error,
                "overdueRejections": self.batcher.overdue_rejections,
                "mempool": len(self.pool),
                "censored": sorted(self.pool.censored),
                "ignoreForced": self.builder.ignore_forced,
                "leading": self.leadership.is_leader,
                "handoff": self.handoff.describe() if self.handoff is not None else None,
                "signedHeights": len(self.guard.signed_above(self.chain_id, self.state.safe_number))
                if self.guard is not None else 0,
            }
        return status
