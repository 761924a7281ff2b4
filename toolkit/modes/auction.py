"""Mode `auction`: `pos` plus a sealed-bid, second-price auction per epoch for the right to sequence.

The registry is `SequencerAuction` (a StakingRegistry with commit / reveal / settle, proceeds to
stakers). `sequencerFor` names an epoch's valid winner, or the pos stake-weighted leader when nobody
won; every node runs a bidder (toolkit/sequencer/bidder.py) that commits, reveals and settles.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from toolkit.l1.blocks import L1Block
from toolkit.modes.base import LeaderView, RegistrySettings
from toolkit.modes.pos import PosMode

ZERO = "0x" + "00" * 20


def auction_phase(epoch: int, head: int, epoch_length: int, close_offset: int, reveal_window: int,
                  settled: bool) -> str:
    """Where the auction of `epoch` stands at L1 block `head`: bidding, revealing, settling or settled."""
    start = epoch * epoch_length
    close = start - close_offset if start > close_offset else 0
    if settled:
        return "settled"
    if head < close:
        return "bidding"
    if head < close + reveal_window:
        return "revealing"
    return "awaiting settlement"


def leader_reason(leader: str | None, winner: str | None, settled: bool) -> str:
    """Why the epoch's leader leads, in words (rollup_sequencer's `auction.why`)."""
    if winner and leader and winner.lower() == leader.lower():
        return "won the epoch's auction"
    if winner:
        return "fallback: the auction winner was timed out or left the set"
    if settled:
        return "fallback: no valid bid, the pos stake-weighted leader"
    return "fallback: the epoch's auction is not settled, the pos stake-weighted leader"


class AuctionMode(PosMode):
    name = "auction"
    registry_contract = "SequencerAuction"
    auctions = True
    revert_unsupported = "a bidder's sealed bids (their salts) live only in its memory, not in a snapshot"
    description = "sealed-bid second-price auction per epoch among bonded validators; pos leader when no bid"

    def registry_constructor(self, factory: Any, admin: str, operators: list[str], settings: RegistrySettings) -> Any:
        params = (settings.auction_close_offset, settings.auction_reveal_window, settings.auction_reserve_price_wei,
                  settings.auction_penalty_bps, settings.auction_burn_bps)
        return factory.constructor(
            admin, settings.epoch_length, settings.liveness_timeout, settings.min_stake_wei,
            settings.unbonding_delay, settings.reporter_share_bps, params,
        )

    async def read_view(self, registry: Any, chain_id: int, head: L1Block) -> LeaderView:
        view = await super().read_view(registry, chain_id, head)
        at = "0x" + head.hash.hex()
        settled, winner, price, second, forfeits, bidders = await registry.functions.auctionOf(
            chain_id, view.epoch).call(block_identifier=at)
        valid = await registry.functions.winnerOf(chain_id, view.epoch).call(block_identifier=at)
        winner_or_none = None if int(winner, 16) == 0 else winner
        details = {
            "epoch": view.epoch, "settled": bool(settled), "winner": winner_or_none,
            "validWinner": None if int(valid, 16) == 0 else valid, "price": int(price), "secondPrice": int(second),
            "forfeits": int(forfeits), "bidders": list(bidders),
            "why": leader_reason(view.leader, None if int(valid, 16) == 0 else valid, bool(settled)),
        }
        return replace(view, details=details)

    def sequencer_info(self, view: LeaderView | None, upcoming: int = 3) -> dict[str, Any]:
        info = super().sequencer_info(view, upcoming)
        info["auction"] = view.details if view is not None else None
        return info

    async def auction_status(self, registry: Any, chain_id: int, head: L1Block, span: int = 2) -> dict[str, Any] | None:
        at = "0x" + head.hash.hex()
        f = registry.functions

        async def read(call: Any) -> Any:
            return await call.call(block_identifier=at)

        epoch_length = int(await read(f.epochLength()))
        close_offset, reveal_window = int(await read(f.closeOffset())), int(await read(f.revealWindow()))
        current = head.number // epoch_length
        async def one(epoch: int) -> dict[str, Any]:
            settled, winner, price, second, forfeits, bidders = await read(f.auctionOf(chain_id, epoch))
            start = epoch * epoch_length
            close = start - close_offset if start > close_offset else 0
            raw_bids = await asyncio.gather(*(read(f.bids(chain_id, epoch, bidder)) for bidder in bidders))
            bids = [{"bidder": bidder, "commitment": "0x" + bytes(commitment).hex(), "collateral": str(collateral),
                     "revealed": bool(revealed), "amount": str(amount) if revealed else None}
                    for bidder, (commitment, collateral, amount, revealed) in zip(bidders, raw_bids, strict=True)]
            return {
                "epoch": epoch, "startsAtL1Block": start, "biddingClosesAtL1Block": close,
                "revealEndsAtL1Block": close + reveal_window,
                "phase": auction_phase(epoch, head.number, epoch_length, close_offset, reveal_window, bool(settled)),
                "settled": bool(settled), "winner": None if int(winner, 16) == 0 else winner,
                "price": str(price), "secondPrice": str(second), "forfeits": str(forfeits), "bids": bids,
            }

        async def staker(validator: str) -> dict[str, Any]:
            stake, claimable = await asyncio.gather(read(f.validators(validator)), read(f.claimable(validator)))
            return {"address": validator, "stake": str(stake[0]), "claimable": str(claimable)}

        auctions = await asyncio.gather(*(one(e) for e in range(max(current - span, 0), current + span + 1)))
        stakers = await asyncio.gather(*(staker(v) for v in await read(f.activeValidators())))
        reserve, penalty, burn, to_stakers, claimed, burned = await asyncio.gather(
            read(f.reservePrice()), read(f.penaltyBps()), read(f.burnBps()), read(f.proceedsToStakers()),
            read(f.proceedsClaimed()), read(f.burnedProceeds()))
        return {
            "chainId": chain_id, "l1Block": head.number, "epoch": current, "epochLength": epoch_length,
            "closeOffset": close_offset, "revealWindow": reveal_window,
            "reservePrice": str(reserve), "penaltyBps": int(penalty), "burnBps": int(burn),
            "proceedsToStakers": str(to_stakers), "proceedsClaimed": str(claimed), "burnedProceeds": str(burned),
            "auctions": list(auctions), "stakers": list(stakers),
        }

    def bidder(self, role: Any) -> Any:
        from toolkit.sequencer.bidder import Bidder, parse_strategy

        config = role.config
        strategy = parse_strategy(config.bid_strategy, config.bid_expected_mev_wei, config.bid_shading)
        return Bidder(role.follower.l1, role.chain_id, role.private_key, strategy, config.l1_poll_seconds)
