"""A validator's bidder in mode `auction`: commits, reveals and settles on L1 by itself.

Strategies (`bid_strategy` of the node config, `[auction] strategies` of devnet.toml):
  off           - never bids (still settles auctions it sees, and withdraws its refunds);
  fixed AMOUNT  - bids AMOUNT ether for every epoch;
  value         - bids the expected MEV of an epoch times a shading factor (`expected_mev_wei x shading`).

For each epoch it bids once, as soon as that epoch is the next one still open for commitments;
it reveals in the reveal window and then settles (any bidder may; a lost race reverts with
AlreadySettled, which changes nothing) and withdraws its refunded collateral. The salt is random and
kept in memory: a node restarted between commit and reveal loses the penalty of that commitment.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account

from toolkit.l1.client import BatchRejected, L1Client
from toolkit.sequencer.bid_strategy import BidStrategy, StrategyError, parse_strategy

log = logging.getLogger(__name__)

__all__ = ["BidStrategy", "Bidder", "StrategyError", "close_block", "commit_epoch", "parse_strategy"]

def commit_epoch(pending_block: int, epoch_length: int, close_offset: int) -> int:
    """The first epoch whose bidding is still open for a transaction mined in `pending_block`."""
    return (pending_block + close_offset) // epoch_length + 1


def close_block(epoch: int, epoch_length: int, close_offset: int) -> int:
    start = epoch * epoch_length
    return start - close_offset if start > close_offset else 0


@dataclass
class OwnBid:
    epoch: int
    amount: int
    salt: bytes
    committed: bool = False
    revealed: bool = False
    settled: bool = False
    busy: bool = False  # an L1 transaction for this bid is in flight
    outcome: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "amount": str(self.amount), "committed": self.committed,
                "revealed": self.revealed, "settled": self.settled, **self.outcome}


class Bidder:
    def __init__(self, l1: L1Client, chain_id: int, private_key: str, strategy: BidStrategy,
                 poll_seconds: float = 0.25) -> None:
        self.l1 = l1
        self.chain_id = chain_id
        self.private_key = private_key
        self.address = Account.from_key(private_key).address
        self.strategy = strategy
        self.poll_seconds = max(poll_seconds, 0.25)
        self.bids: dict[int, OwnBid] = {}
        self._task: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[None]] = set()
        self._params: tuple[int, int, int] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"bidder-{self.chain_id}")

    async def stop(self) -> None:
        tasks = [*self._work, *([self._task] if self._task is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def status(self) -> dict[str, Any]:
        return {"address": self.address, "strategy": self.strategy.kind,
                "bids": [bid.to_json() for bid in sorted(self.bids.values(), key=lambda b: b.epoch)[-10:]]}

    async def _run(self) -> None:
        while True:
            try:
                await self.step(int(await self.l1.w3.eth.block_number))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # L1 briefly unreachable: try again next poll
                log.warning("bidder: %s", exc)
            await asyncio.sleep(self.poll_seconds)

    async def params(self) -> tuple[int, int, int]:
        if self._params is None:
            registry = self.l1.registry.functions
            self._params = (int(await registry.epochLength().call()), int(await registry.closeOffset().call()),
                            int(await registry.revealWindow().call()))
        return self._params

    async def step(self, head: int) -> None:
        """One look at L1 block `head`: start the reveals, settlements and commit that are due.

        Each L1 transaction runs as a task of its own (one at a time per bid), so a slow receipt for
        one epoch never makes another epoch's reveal miss its window."""
        epoch_length, close_offset, reveal_window = await self.params()
        pending = head + 1
        for bid in list(self.bids.values()):
            if bid.busy:
                continue
            close = close_block(bid.epoch, epoch_length, close_offset)
            if bid.committed and not bid.revealed and close <= pending < close + reveal_window:
                self._spawn(bid, self._reveal(bid))
            elif bid.committed and not bid.settled and pending >= close + reveal_window:
                self._spawn(bid, self._settle(bid))
            elif (bid.settled or not bid.committed) and bid.epoch < pending // epoch_length - 8:
                del self.bids[bid.epoch]
        epoch = commit_epoch(pending, epoch_length, close_offset)
        amount = self.strategy.amount_for(epoch)
        if amount > 0 and epoch not in self.bids:
            bid = OwnBid(epoch, amount, os.urandom(32))
            self.bids[epoch] = bid
            self._spawn(bid, self._commit(bid))

    def _spawn(self, bid: OwnBid, work: Any) -> None:
        bid.busy = True

        async def run() -> None:
            try:
                await work
            except Exception as exc:  # L1 briefly unreachable: the next step tries again
                log.warning("bidder: epoch %d: %s", bid.epoch, exc)
            finally:
                bid.busy = False
                self._work.discard(task)

        task = asyncio.create_task(run())
        self._work.add(task)

    async def _reveal(self, bid: OwnBid) -> None:
        if await self._call("revealBid", self.chain_id, bid.epoch, bid.amount, bid.salt):
            bid.revealed = True
            log.info("bidder: revealed %d wei for epoch %d", bid.amount, bid.epoch)
        else:
            revealed = (await self.l1.registry.functions.bids(self.chain_id, bid.epoch, self.address).call())[3]
            bid.revealed = bool(revealed) or bid.revealed

    async def _commit(self, bid: OwnBid) -> None:
        commitment = await self.l1.registry.functions.commitmentOf(
            self.chain_id, bid.epoch, self.address, bid.amount, bid.salt).call()
        if await self._call("commitBid", self.chain_id, bid.epoch, commitment, value=bid.amount):
            bid.committed = True
            log.info("bidder: committed a bid of %d wei for epoch %d", bid.amount, bid.epoch)
        else:
            bid.settled = True  # bidding closed before it landed: nothing to reveal or settle

    async def _settle(self, bid: OwnBid) -> None:
        functions = self.l1.registry.functions
        settled = (await functions.auctionOf(self.chain_id, bid.epoch).call())[0]
        if not settled:
            await self._call("settle", self.chain_id, bid.epoch)
        settled, winner, price, second, _, bidders = await functions.auctionOf(self.chain_id, bid.epoch).call()
        if not settled:
            return
        bid.settled = True
        bid.outcome = {"winner": winner, "price": str(price), "won": winner.lower() == self.address.lower()}
        if int(await functions.refunds(self.address).call()) > 0:
            await self._call("withdrawRefund")

    async def _call(self, function: str, *args: Any, value: int = 0) -> bool:
        try:
            await self.l1.send_registry_call(self.private_key, function, *args, value=value)
            return True
        except BatchRejected as exc:
            log.info("bidder: %s not needed or refused: %s", function, exc)
            return False
