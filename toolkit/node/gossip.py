"""Unsafe-block gossip between nodes over HTTP: POST /p2p/block, GET /p2p/block/{number}.

The leader pushes each signed block to its peers. A follower takes a block as its unsafe head only
when its signature recovers to a validator that led on L1 at some block from the block's L1 origin
to the head (the leader checks it leads right before signing, so its late blocks still pass), at the
number it claims, extending a block it holds, and when re-executing it gives the signed hash. When a
block arrives ahead of its head, the follower pulls the missing ones from the signer's configured URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from toolkit.l2.executor import BlockExecutionError
from toolkit.l2.signed_block import SignedBlock
from toolkit.modes import LeaderView
from toolkit.node.chain_state import ChainState
from toolkit.node.partition import peer_links
from toolkit.signing import SigningDomain

log = logging.getLogger(__name__)

MAX_KEPT_BLOCKS = 10_000
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=3)


class GossipRejected(Exception):
    pass


class GossipPublisher:
    def __init__(self, own_url: str, peers: tuple[str, ...]) -> None:
        self.own_url = own_url
        self.peers = peers
        self.signed_blocks: dict[int, SignedBlock] = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def remember(self, block: SignedBlock) -> None:
        self.signed_blocks[block.number] = block
        for old in [n for n in self.signed_blocks if n <= block.number - MAX_KEPT_BLOCKS]:
            del self.signed_blocks[old]

    def forget_from(self, number: int) -> None:
        for dropped in [n for n in self.signed_blocks if n >= number]:
            del self.signed_blocks[dropped]

    def publish(self, block: SignedBlock, remember: bool = True) -> None:
        if remember:
            self.remember(block)
        message = {"from": self.own_url, "block": block.to_json()}
        for peer in self.peers:
            task = asyncio.ensure_future(self._send(peer, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, peer: str, message: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=REQUEST_TIMEOUT)
        try:
            peer_links.check(peer)
            async with self._session.post(f"{peer}/p2p/block", json=message) as response:
                if response.status != 200:
                    log.debug("peer %s refused block: %s", peer, await response.text())
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.debug("gossip to %s failed: %s", peer, exc)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()


class GossipReceiver:
    def __init__(self, chain_id: int, state: ChainState, domain: SigningDomain) -> None:
        self.chain_id = chain_id
        self.domain = domain
        self.state = state
        # the node's current view of who leads (one L1 snapshot): who may sign, whose block may replace ours
        self.view: Callable[[], LeaderView | None] = lambda: None
        # whether an address led at some L1 block from a given one to the head (the node's LeaderHistory)
        self.led_since: Callable[[str, int], Awaitable[bool]] = self._leads_now
        self.on_seen: list[Callable[[SignedBlock, str], None]] = []  # every validly signed block (watchtower)
        self.on_signed: list[Callable[[SignedBlock, str], None]] = []  # every block adopted, with its signer
        # where a validator serves its blocks (from configuration): the only URLs gossip ever fetches
        self.peer_url: Callable[[str], str | None] = lambda address: None
        self.accepted = 0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def receive(self, message: dict[str, Any]) -> str:
        try:
            block = SignedBlock.from_json(message["block"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GossipRejected(f"malformed gossip message: {exc}") from exc
        # Signature first: a forged message costs one ECDSA recovery and never makes us fetch anything.
        # Missing parents come from the signer's configured URL, never from a URL the message names.
        signer = self._check_signer(block)
        await self._check_led(block, signer)
        async with self._lock:
            source = self.peer_url(signer)
            if source is not None and not self.state.executor.is_canonical(block.parent_hash):
                await self._sync_from(source, block)
            return self._accept(block)

    def _check_signer(self, block: SignedBlock, own: bool = False) -> str:
        if block.chain_id != self.chain_id:
            raise GossipRejected(f"block for chain {block.chain_id}")
        try:
            signer = block.signer(self.domain)
        except Exception as exc:  # a malformed signature
            raise GossipRejected(f"block {block.number}: bad signature: {exc}") from exc
        view = self.view()
        if not own and (view is None or not view.may_sign(signer)):
            raise GossipRejected(f"block {block.number} signed by {signer}, who may not sequence")
        return signer

    async def _leads_now(self, address: str, l1_number: int) -> bool:
        view = self.view()
        return view is not None and view.leads(address)

    async def _check_led(self, block: SignedBlock, signer: str) -> None:
        origin = block.attributes.l1_origin_number
        try:
            led = await self.led_since(signer, origin)
        except Exception as exc:  # L1 unreachable: nothing can be checked, nothing is taken
            raise GossipRejected(f"block {block.number}: cannot read on L1 who led since block {origin}: {exc}") from exc
        if not led:
            for listener in self.on_seen:  # a validator's signature is evidence even on a refused block
                listener(block, signer)
            raise GossipRejected(
                f"block {block.number} signed by {signer}, who is not the leader L1 names for it "
                f"(it led at no L1 block from its origin {origin} on)"
            )

    def accept_own(self, block: SignedBlock) -> str:
        """Adopt one of our own signed blocks (journal replay after a restart) as if gossiped."""
        return self._accept(block, own=True)

    def _accept(self, block: SignedBlock, own: bool = False) -> str:
        signer = self._check_signer(block, own)
        view = self.view()
        for listener in self.on_seen:
            listener(block, signer)
        executor = self.state.executor
        if executor.canonical_hash(block.number) == block.block_hash:
            for listener in self.on_signed:
                listener(block, signer)
            return "known"
        if block.number <= self.state.safe_number:
            raise GossipRejected(f"block {block.number} conflicts with the safe chain")
        parent = executor.header_by_hash(block.parent_hash)
        if parent is None or not executor.is_canonical(block.parent_hash):
            raise GossipRejected(f"block {block.number}: unknown parent")
        if parent.block_number + 1 != block.number:
            raise GossipRejected(f"block claims number {block.number} but extends block {parent.block_number}")
        replaces = block.number <= self.state.unsafe_number
        if replaces and (own or view is None or not view.leads(signer)):
            raise GossipRejected(f"block {block.number} competes with ours and {signer} is not the leader")
        queue = self.state.forced_queue
        if block.attributes.forced_end > len(queue.entries):
            raise GossipRejected(
                f"block {block.number} includes forced entries up to {block.attributes.forced_end}; "
                f"this node has seen {len(queue.entries)} on L1 so far"
            )
        try:
            executed = executor.execute_block(
                parent, block.attributes, list(block.raw_transactions), strict=True,
                forced_transactions=queue.raws(block.attributes.forced_start, block.attributes.forced_end),
            )
        except BlockExecutionError as exc:
            raise GossipRejected(f"block {block.number} does not execute: {exc}") from exc
        if executed.hash != block.block_hash:
            raise GossipRejected(f"block {block.number}: hash differs from the signed one")
        if block.number <= self.state.unsafe_number:
            self.state.rewind_unsafe(block.number - 1)
        self.state.extend_unsafe(executed)
        for listener in self.on_signed:
            listener(block, signer)
        self.accepted += 1
        return "accepted"

    async def _sync_from(self, source: str, block: SignedBlock) -> None:
        """Fetch the sender's blocks back to one whose parent we hold, then apply them in order
        (fills a gap, or moves us onto the leader's branch after competing blocks)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=REQUEST_TIMEOUT)
        missing: list[SignedBlock] = []
        parent_hash, number = block.parent_hash, block.number - 1
        while number > self.state.safe_number and not self.state.executor.is_canonical(parent_hash):
            try:
                peer_links.check(source)
                async with self._session.get(f"{source}/p2p/block/{number}") as response:
                    if response.status != 200:
                        return
                    fetched = SignedBlock.from_json(await response.json())
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                log.info("sync from %s stopped at block %d: %s", source, number, exc)
                return
            if fetched.block_hash != parent_hash:
                return  # the sender moved on; its next block will tell
            missing.append(fetched)
            parent_hash, number = fetched.parent_hash, number - 1
        for fetched in reversed(missing):
            try:
                await self._check_led(fetched, self._check_signer(fetched))
                self._accept(fetched)
            except GossipRejected as exc:
                log.info("sync from %s: %s", source, exc)
                return

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
