"""One node of one L2 chain, as the RPC sees it: a chain follower, plus a sequencer role when keyed.

The follower (toolkit/node/follower.py) derives the chain from L1, takes gossiped blocks and
knows who leads; the role (toolkit/sequencer/role.py) builds, signs, batches and hands its mempool
on. A node process serving several chains holds one L2Node per chain (toolkit/node/__main__.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from eth.abc import SignedTransactionAPI

from toolkit.l1.client import L1Client
from toolkit.node.config import NodeConfig
from toolkit.node.follower import ChainFollower
from toolkit.node.partition import peer_links
from toolkit.node.snapshots import NodeSnapshots
from toolkit.rpc.errors import INVALID_PARAMS, SERVER_ERROR, RpcError
from toolkit.sequencer.bundles import BundleBook, BundleRefused, parse_bundle
from toolkit.sequencer.role import SequencerRole


class L2Node:
    def __init__(self, config: NodeConfig, l1: L1Client | None = None) -> None:
        self.config = config
        self.follower = ChainFollower(config, l1)
        self.role = SequencerRole(self.follower) if config.role == "sequencer" else None
        # what the RPC and the HTTP app use
        self.chain_id = self.follower.chain_id
        self.mode = self.follower.mode
        self.domain = self.follower.domain
        self.executor = self.follower.executor
        self.events = self.follower.events
        self.receiver = self.follower.receiver
        self.ready = self.follower.ready
        self.on_pending_transaction: list[Any] = self.role.on_pending_transaction if self.role else []
        self.shared_batcher: Any = None  # mode shared: the process's one poster for all its chains
        self.bundles: BundleBook | None = None  # mode shared: the process's cross-chain bundles
        self.bundle_chains: list[int] = []
        self.bundle_runner: Any = None
        self.bundle_audit: Any = None  # mode shared, verifier: the all-chains bundle check
        self.snapshots = NodeSnapshots(self)

    @property
    def pool(self) -> Any:
        return self.role.pool if self.role is not None else None

    @property
    def handoff(self) -> Any:
        return self.role.handoff if self.role is not None else None

    @property
    def publisher(self) -> Any:
        return self.role.publisher if self.role is not None else None

    @property
    def safe_number(self) -> int:
        return self.follower.state.safe_number

    @property
    def finalized_number(self) -> int:
        return self.follower.state.finalized_number

    @property
    def sequencer_address(self) -> str | None:
        return self.follower.leadership.leader

    @property
    def epoch(self) -> int:
        return self.follower.leadership.epoch

    def _role(self) -> SequencerRole:
        if self.role is None:
            raise RpcError(SERVER_ERROR, "this node does not sequence")
        return self.role

    # ----- transactions -----
    async def submit_transaction(self, raw: bytes) -> bytes:
        if self.role is None:
            return await self.follower.forward_transaction(raw)
        return await self.role.submit_transaction(raw)

    def pending_nonce(self, address: str) -> int:
        if self.role is None:
            return self.executor.nonce(address, self.executor.head)
        return self.role.pending_nonce(address)

    def pending_transaction(self, tx_hash: bytes) -> SignedTransactionAPI | None:
        return self.role.pending_transaction(tx_hash) if self.role is not None else None

    def pool_content(self) -> dict[str, list[SignedTransactionAPI]]:
        """The mempool by sender (empty on a node that does not sequence)."""
        if self.role is None:
            return {}
        return {sender: [entry.tx for entry in entries] for sender, entries in self.role.pool.content().items()}

    # ----- rollup_ and devnet_ methods -----
    def sequencer_info(self) -> dict[str, Any]:
        return self.follower.leadership.sequencer_info()

    async def auction_info(self) -> dict[str, Any]:
        """rollup_auction: the auctions around the L1 head, stakers' proceeds, and this node's bids."""
        if not self.mode.auctions:
            raise RpcError(SERVER_ERROR, f"mode {self.mode.name} has no auction")
        l1 = self.follower.l1
        with self._reading_l1():
            info = await self.mode.auction_status(l1.registry, self.chain_id, await l1.head())
        assert info is not None, f"mode {self.mode.name} auctions but gave no auction status"
        bidder = self.role.bidder if self.role is not None else None
        info["bidder"] = bidder.status() if bidder is not None else None
        return info

    def block_signature(self, block_hash: bytes) -> dict[str, Any] | None:
        return self.follower.block_signature(block_hash)

    def send_bundle(self, txs: list[bytes], atomicity: str) -> dict[str, Any]:
        if self.bundles is None:
            raise RpcError(SERVER_ERROR, "bundles are taken by the sequencer nodes of mode shared")
        try:
            bundle = parse_bundle(txs, atomicity, self.bundle_chains)
        except BundleRefused as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from exc
        if not self._role().leadership.is_leader:
            raise RpcError(SERVER_ERROR, "this node does not lead: send bundles through the gateway")
        return {**self.bundles.add(bundle).to_json(), "node": self.config.name}

    def get_bundle(self, bundle_id: bytes) -> dict[str, Any] | None:
        bundle = self.bundles.get(bundle_id) if self.bundles is not None else None
        return bundle.to_json() if bundle is not None else None

    async def namespaces(self, first_l1_block: int, last_l1_block: int, l1_tx_hash: bytes | None = None
                         ) -> list[dict[str, Any]]:
        with self._reading_l1():
            return await self.follower.namespaces(first_l1_block, last_l1_block, l1_tx_hash)

    @contextmanager
    def _reading_l1(self) -> Iterator[None]:
        """An RPC answer read from L1: L1 unreachable is the caller's clear -32000, not an internal error."""
        try:
            yield
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise RpcError(SERVER_ERROR, f"L1 unreachable ({self.config.l1_rpc_url}): {exc}") from exc

    def forced_queue_status(self) -> list[dict[str, Any]]:
        return self.follower.forced_queue_status()

    def sync_status(self) -> dict[str, Any]:
        status = self.follower.sync_status()
        if self.role is not None:
            status["sequencing"] = self.role.status()
            if self.shared_batcher is not None:
                status["sequencing"].update(self.shared_batcher.status())
        if self.bundle_audit is not None:
            status["bundleAudit"] = self.bundle_audit.status()
        return status

    def split_bundles(self, enabled: bool) -> bool:
        if self.bundle_runner is None:
            raise RpcError(SERVER_ERROR, "this node takes no bundles")
        self.bundle_runner.split = enabled
        return enabled

    def set_censored(self, addresses: list[str]) -> list[str]:
        return self._role().set_censored(addresses)

    def set_ignore_forced(self, enabled: bool) -> bool:
        return self._role().set_ignore_forced(enabled)

    def set_batching(self, enabled: bool) -> bool:
        return self._role().set_batching(enabled)

    def equivocate(self) -> dict[str, Any]:
        return self._role().equivocate()

    async def hold(self, held: bool) -> bool:
        """Build and post nothing while a devnet snapshot or revert is taken (a verifier holds nothing)."""
        return await self.role.hold(held) if self.role is not None else held

    def snapshot(self) -> dict[str, Any]:
        self._check_revertible()
        return self.snapshots.take()

    async def revert(self, snapshot_id: int) -> dict[str, Any]:
        self._check_revertible()
        return await self.snapshots.revert(snapshot_id)

    def snapshot_ids(self) -> list[str]:
        return self.snapshots.ids()

    def _check_revertible(self) -> None:
        if self.mode.revert_unsupported is not None:
            raise RpcError(SERVER_ERROR, f"mode {self.mode.name} cannot snapshot and revert: "
                                         f"{self.mode.revert_unsupported}")

    def set_partitioned(self, partitioned: bool) -> bool:
        """Cut this node off from its peers (both ways) or restore the links (toolkit.node.partition)."""
        return peer_links.set_cut(partitioned)

    # ----- lifecycle -----
    async def start(self) -> None:
        self.follower.start()
        if self.role is not None:
            self.role.start()

    async def stop(self) -> None:
        if self.role is not None:
            await self.role.stop()
        await self.follower.stop()
