"""The mode seam: what differs between sequencing modes lives in one class per mode.

Nodes, derivation, the gateway, deployment and the CLI ask the mode object (registry contract,
deploy steps, who may sign and lead at an L1 block, whether batches carry attestations, what the
CLI shows); they never compare mode names. The class is chosen from one table, `MODES`, the way
py-evm picks a VM class per fork.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from toolkit.l1.blocks import L1Block, Schedule

ETHER = 10**18


@dataclass(frozen=True)
class RegistrySettings:
    epoch_length: int = 32
    liveness_timeout: int = 8  # L1 blocks without a batch before anyone may skip the leader
    committee_threshold: int = 0  # M of N; 0 = a majority
    min_stake_wei: int = ETHER
    stake_wei: int = 10 * ETHER  # what each validator bonds at start
    unbonding_delay: int = 10
    reporter_share_bps: int = 1000
    # mode auction (SequencerAuction.AuctionParams)
    auction_close_offset: int = 8  # bidding for epoch e closes this many L1 blocks before e starts
    auction_reveal_window: int = 3  # L1 blocks of reveals after the close
    auction_reserve_price_wei: int = 10**15
    auction_penalty_bps: int = 1000  # share of an unrevealed commitment forfeited
    auction_burn_bps: int = 0  # share of the proceeds burned


@dataclass(frozen=True)
class LeaderView:
    """Who leads one chain, every field read at the same pinned L1 block (by hash)."""

    l1_block: L1Block
    epoch: int
    epoch_length: int
    leader: str | None
    validators: tuple[str, ...]  # who may sign L2 blocks and attest batches
    schedule: Schedule | None = None  # modes that rotate: the registry's record of the epoch
    liveness_timeout: int | None = None
    details: dict[str, Any] | None = None  # mode-specific facts read at the same block (the auction)

    def leads(self, address: str | None) -> bool:
        return address is not None and self.leader is not None and self.leader.lower() == address.lower()

    def may_sign(self, address: str) -> bool:
        return address.lower() in {v.lower() for v in self.validators}


# send(private_key, transaction fields) queues one L1 transaction during deployment
Send = Callable[[str, dict[str, Any]], None]


class Mode:
    """Base of every mode. Subclasses set the class attributes and override what differs."""

    name: ClassVar[str]
    registry_contract: ClassVar[str]
    description: ClassVar[str]
    attests: ClassVar[bool] = False  # batches carry validators' attestations
    rotates: ClassVar[bool] = False  # epochs with a schedule on L1: syncEpoch, liveness timeouts
    stakes: ClassVar[bool] = False  # stake/unstake, slashing evidence (equivocation, censorship)
    auctions: ClassVar[bool] = False  # sealed-bid auction for each epoch (commitBid / revealBid / settle)
    shares_batches: ClassVar[bool] = False  # one batcher per node posts every chain's blocks in one L1 tx
    # why devnet_snapshot / devnet_revert cannot return this mode's nodes to a snapshot (None: they can)
    revert_unsupported: ClassVar[str | None] = None

    def check_chain_count(self, count: int) -> str | None:
        """Why this mode cannot run `count` L2 chains (None: it can)."""
        return None

    def sequencer_count(self, configured: int) -> int:
        """How many keyed sequencer nodes the devnet runs."""
        return configured

    # ----- deployment -----
    def registry_constructor(self, factory: Any, admin: str, operators: list[str], settings: RegistrySettings) -> Any:
        raise NotImplementedError

    def setup_registry(
        self, send: Send, registry: Any, inbox: str, chain_ids: list[int], admin_key: str, operator_keys: list[str],
        settings: RegistrySettings,
    ) -> None:
        """Transactions after the Inbox exists: bind it, name or stake the operators (for every chain)."""
        send(admin_key, registry.functions.setInbox(inbox).build_transaction({"gas": 200_000}))

    # ----- who leads, read at one L1 block -----
    async def validators(self, registry: Any, chain_id: int, block: bytes) -> list[str]:
        """Who may sign L2 blocks and attest batches, at L1 block `block` (a hash)."""
        raise NotImplementedError

    async def read_view(self, registry: Any, chain_id: int, head: L1Block) -> LeaderView:
        """The leader, validator set and schedule of `chain_id`, all read at `head` (pinned by hash)."""
        at = "0x" + head.hash.hex()
        epoch_length = int(await registry.functions.epochLength().call(block_identifier=at))
        leader = await registry.functions.sequencerFor(chain_id, head.number).call(block_identifier=at)
        validators = await self.validators(registry, chain_id, at)
        schedule, timeout = None, None
        if self.rotates:
            started, epoch, skips, last_activity, recorded = await registry.functions.schedules(chain_id).call(
                block_identifier=at
            )
            schedule = Schedule(bool(started), int(epoch), int(skips), int(last_activity), recorded)
            timeout = int(await registry.functions.livenessTimeout().call(block_identifier=at))
        return LeaderView(
            l1_block=head, epoch=head.number // epoch_length, epoch_length=epoch_length,
            leader=None if int(leader, 16) == 0 else leader, validators=tuple(validators),
            schedule=schedule, liveness_timeout=timeout,
        )

    # ----- what the node and the CLI show -----
    def sequencer_info(self, view: LeaderView | None, upcoming: int = 3) -> dict[str, Any]:
        """The mode-specific part of rollup_sequencer."""
        if view is None:
            return {"epochLength": None, "nextHandoffL1Block": None, "upcoming": []}
        if not self.rotates:
            return {"epochLength": view.epoch_length, "nextHandoffL1Block": None, "upcoming": []}
        timeout_at = None  # the first L1 block a reportTimeout can be mined in, as Leadership counts it
        if view.schedule is not None and view.liveness_timeout is not None:
            epoch_start = view.epoch * view.epoch_length
            last = max(view.schedule.last_activity, epoch_start) if view.schedule.epoch == view.epoch else epoch_start
            timeout_at = last + view.liveness_timeout + 1
        return {
            "epochLength": view.epoch_length,
            "nextHandoffL1Block": (view.epoch + 1) * view.epoch_length,
            "timeoutCallableAt": timeout_at,
            "upcoming": [
                {"epoch": view.epoch + i, "startsAtL1Block": (view.epoch + i) * view.epoch_length}
                for i in range(1, upcoming + 1)
            ],
        }

    async def auction_status(self, registry: Any, chain_id: int, head: L1Block, span: int = 3) -> dict[str, Any] | None:
        """rollup_auction: the auctions around `head` (None in modes without an auction)."""
        return None

    def bidder(self, role: Any) -> Any:
        """A background task object the sequencer role runs (`start()` / `stop()`), or None."""
        return None

    def validator_row(self, registry: Any, address: str) -> dict[str, Any]:
        """Extra columns of `devnet sequencer list` for one validator (a synchronous registry contract)."""
        return {}
