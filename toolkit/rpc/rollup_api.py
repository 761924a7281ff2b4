"""The rollup_ namespace (who sequences, heads, forced queue) and devnet_ controls for tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from eth.abc import BlockHeaderAPI

from toolkit.rpc import params as p
from toolkit.rpc.errors import invalid_params
from toolkit.rpc.server import Handler

MAX_NAMESPACE_RANGE = 1000  # L1 blocks one rollup_getNamespaces call may span


class RollupNodeView(Protocol):
    chain_id: int
    sequencer_address: str | None
    epoch: int

    def sync_status(self) -> dict[str, Any]: ...

    def forced_queue_status(self) -> list[dict[str, Any]]: ...

    def set_censored(self, addresses: list[str]) -> list[str]: ...

    def set_ignore_forced(self, enabled: bool) -> bool: ...

    def sequencer_info(self) -> dict[str, Any]: ...

    def equivocate(self) -> dict[str, Any]: ...

    async def auction_info(self) -> dict[str, Any]: ...

    def block_signature(self, block_hash: bytes) -> dict[str, Any] | None: ...

    def send_bundle(self, txs: list[bytes], atomicity: str) -> dict[str, Any]: ...

    def get_bundle(self, bundle_id: bytes) -> dict[str, Any] | None: ...

    def split_bundles(self, enabled: bool) -> bool: ...

    def set_partitioned(self, partitioned: bool) -> bool: ...

    async def namespaces(self, first_l1_block: int, last_l1_block: int, l1_tx_hash: bytes | None = None
                         ) -> list[dict[str, Any]]: ...


class RollupApi:
    def __init__(
        self, node: RollupNodeView, mode: str, header_of: Callable[[Any], BlockHeaderAPI | None]
    ) -> None:
        self.node = node
        self.mode = mode
        self.header_of = header_of  # a block tag / number / EIP-1898 object -> canonical header or None

    def methods(self) -> dict[str, Handler]:
        return {
            "rollup_syncStatus": self.rollup_syncStatus,
            "rollup_sequencer": self.rollup_sequencer,
            "rollup_forcedQueue": self.rollup_forcedQueue,
            "rollup_getBlockSignature": self.rollup_getBlockSignature,
            "rollup_auction": self.rollup_auction,
            "rollup_getNamespace": self.rollup_getNamespace,
            "rollup_getNamespaces": self.rollup_getNamespaces,
            "rollup_sendBundle": self.rollup_sendBundle,
            "rollup_getBundle": self.rollup_getBundle,
        }

    def admin_methods(self) -> dict[str, Handler]:
        """Test controls: served only on the node's own admin endpoint (POST /admin) when enabled."""
        return {
            "devnet_setCensored": self.devnet_setCensored,
            "devnet_setIgnoreForced": self.devnet_setIgnoreForced,
            "devnet_equivocate": self.devnet_equivocate,
            "devnet_setBatching": self.devnet_setBatching,
            "devnet_splitBundles": self.devnet_splitBundles,
            "devnet_setPartitioned": self.devnet_setPartitioned,
            "devnet_hold": self.devnet_hold,
            "devnet_snapshot": self.devnet_snapshot,
            "devnet_revert": self.devnet_revert,
            "devnet_snapshots": self.devnet_snapshots,
        }

    async def rollup_syncStatus(self, params: list[Any]) -> dict[str, Any]:
        return self.node.sync_status()

    async def rollup_sequencer(self, params: list[Any]) -> dict[str, Any]:
        return {"chainId": self.node.chain_id, "mode": self.mode, **self.node.sequencer_info()}

    async def rollup_auction(self, params: list[Any]) -> dict[str, Any]:
        """Mode auction: upcoming and recent auctions (commitments, reveals, winner, price), proceeds per
        staker, and this node's own bids; an error in other modes."""
        return await self.node.auction_info()

    async def rollup_forcedQueue(self, params: list[Any]) -> list[dict[str, Any]]:
        """Every forced entry: queued, overdue, included (L2 block, safe or not) or skipped (reason)."""
        return self.node.forced_queue_status()

    async def rollup_getBlockSignature(self, params: list[Any]) -> dict[str, Any] | None:
        """{number, blockHash, signer, signature} of the sequencer signature this node holds for a
        block (by number, tag or hash); null for a block nobody signed (made by derivation) or unknown."""
        p.expect_count(params, 1)
        target = p.arg(params, 0, "numberOrHash")
        if isinstance(target, str) and len(target) == 66:
            block_hash = p.hex_bytes(target, "blockHash", 32)
        else:
            header = self.header_of(target)
            if header is None:
                return None
            block_hash = bytes(header.hash)
        return self.node.block_signature(block_hash)

    async def rollup_getNamespace(self, params: list[Any]) -> dict[str, Any] | None:
        """This chain's namespace of the shared batch posted in an L1 transaction, with the segment
        list proving it complete (mode shared; format in README). null: no shared batch in that tx."""
        p.expect_count(params, 1)
        tx_hash = p.hex_bytes(p.arg(params, 0, "l1TxHash"), "l1TxHash", 32)
        reads = await self.node.namespaces(0, 0, tx_hash)
        return reads[0] if reads else None

    async def rollup_getNamespaces(self, params: list[Any]) -> list[dict[str, Any]]:
        """This chain's namespace of every shared batch in L1 blocks fromL1Block..toL1Block (at most
        MAX_NAMESPACE_RANGE blocks), in L1 order, each with its completeness proof."""
        p.expect_count(params, 2)
        first = p.quantity(p.arg(params, 0, "fromL1Block"), "fromL1Block")
        last = p.quantity(p.arg(params, 1, "toL1Block"), "toL1Block")
        if last < first or last - first >= MAX_NAMESPACE_RANGE:
            raise invalid_params(f"toL1Block must be within fromL1Block .. fromL1Block + {MAX_NAMESPACE_RANGE - 1}")
        return await self.node.namespaces(first, last)

    async def rollup_sendBundle(self, params: list[Any]) -> dict[str, Any]:
        """Mode shared: {txs: [raw tx, ...] on any chains of the set, atomicity: "inclusion" | "execution"};
        returns the bundle's record (bundleId, status pending). Bad bundles are refused whole."""
        p.expect_count(params, 1)
        request = p.arg(params, 0, "bundle")
        if not isinstance(request, dict) or not isinstance(request.get("txs"), list):
            raise invalid_params("expected {txs: [raw transactions], atomicity: inclusion|execution}")
        txs = [p.hex_bytes(raw, "txs[]") for raw in request["txs"]]
        return self.node.send_bundle(txs, str(request.get("atomicity", "inclusion")))

    async def rollup_getBundle(self, params: list[Any]) -> dict[str, Any] | None:
        """A bundle's record: pending, included (slot, block per chain, tx hashes) or dropped (reason)."""
        p.expect_count(params, 1)
        return self.node.get_bundle(p.hex_bytes(p.arg(params, 0, "bundleId"), "bundleId", 32))

    async def devnet_setCensored(self, params: list[Any]) -> list[str]:
        """Test control: the sequencer leaves out every transaction from these L2 senders."""
        addresses = p.arg(params, 0, "addresses")
        if not isinstance(addresses, list):
            raise invalid_params("expected a list of addresses")
        return self.node.set_censored([p.address(a) for a in addresses])

    async def devnet_equivocate(self, params: list[Any]) -> dict[str, Any]:
        """Test control: the leader signs a second, different block at its head's height and
        returns both signed headers (the proof slashEquivocation takes)."""
        return self.node.equivocate()

    async def devnet_setBatching(self, params: list[Any]) -> bool:
        """Test control: false holds this sequencer's batches back (its unsafe blocks do not reach L1)
        until true again."""
        enabled = p.arg(params, 0, "enabled")
        if not isinstance(enabled, bool):
            raise invalid_params("expected true or false")
        return self.node.set_batching(enabled)

    async def devnet_splitBundles(self, params: list[Any]) -> bool:
        """Test control (mode shared): the leader signs only a bundle's first chain's block but marks the
        bundle as whole; the all-chains verifier must report it."""
        enabled = p.arg(params, 0, "enabled")
        if not isinstance(enabled, bool):
            raise invalid_params("expected true or false")
        return self.node.split_bundles(enabled)

    async def devnet_hold(self, params: list[Any]) -> bool:
        """Test control: true makes a sequencer build and post nothing (answered once a block being
        built is done) until false again; what a devnet-wide snapshot or revert is taken under."""
        p.expect_count(params, 1)
        held = p.arg(params, 0, "held")
        if not isinstance(held, bool):
            raise invalid_params("expected true or false")
        return await self.node.hold(held)

    async def devnet_snapshot(self, params: list[Any]) -> dict[str, Any]:
        """Test control: this node's part of a devnet-wide snapshot (README: snapshot and revert):
        {id, head, hash, safe, finalized}."""
        p.expect_count(params, 0)
        return self.node.snapshot()

    async def devnet_revert(self, params: list[Any]) -> dict[str, Any]:
        """Test control: back to a snapshot this node took, after the L1 went back (evm_revert); the
        snapshot and every later one are used up."""
        p.expect_count(params, 1)
        return await self.node.revert(p.quantity(p.arg(params, 0, "id"), "id"))

    async def devnet_snapshots(self, params: list[Any]) -> list[str]:
        """Test control: the ids of the snapshots this node can still revert to (none after a restart)."""
        p.expect_count(params, 0)
        return self.node.snapshot_ids()

    async def devnet_setPartitioned(self, params: list[Any]) -> bool:
        """Test control: true cuts this node off from its peers both ways (gossip, sync, attestations,
        mempool handoff) until false again; L1 and client RPC are untouched."""
        p.expect_count(params, 1)
        partitioned = p.arg(params, 0, "partitioned")
        if not isinstance(partitioned, bool):
            raise invalid_params("expected true or false")
        return self.node.set_partitioned(partitioned)

    async def devnet_setIgnoreForced(self, params: list[Any]) -> bool:
        """Test control: a misbehaving sequencer that includes no forced entry (L1 will refuse it)."""
        enabled = p.arg(params, 0, "enabled")
        if not isinstance(enabled, bool):
            raise invalid_params("expected true or false")
        return self.node.set_ignore_forced(enabled)
