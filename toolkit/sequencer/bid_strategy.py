"""A validator's bidding strategy in mode `auction` (`bid_strategy` of the node config, `[auction]
strategies` of devnet.toml): plain values, so config checks need no client library.

  off           - never bids;
  fixed AMOUNT  - bids AMOUNT ether for every epoch;
  value         - bids the expected MEV of an epoch times a shading factor (`expected_mev_wei x shading`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

ETHER = 10**18
KINDS = ("off", "fixed", "value")


class StrategyError(ValueError):
    pass


@dataclass(frozen=True)
class BidStrategy:
    kind: str  # off | fixed | value
    amount_wei: int = 0  # fixed
    expected_mev_wei: int = 0  # value
    shading: float = 1.0  # value

    def amount_for(self, epoch: int) -> int:
        """The bid for `epoch` in wei (0: no bid)."""
        if self.kind == "fixed":
            return self.amount_wei
        if self.kind == "value":
            return int(Decimal(self.expected_mev_wei) * Decimal(str(self.shading)))
        return 0


def parse_strategy(text: str, expected_mev_wei: int = 0, shading: float = 1.0) -> BidStrategy:
    """`off`, `fixed AMOUNT` (ether, e.g. `fixed 0.25`) or `value`; raises StrategyError."""
    parts = text.split()
    if not parts or parts[0] not in KINDS:
        raise StrategyError(f"bid strategy {text!r}: expected off, 'fixed AMOUNT' (ether) or value")
    kind = parts[0]
    if kind == "fixed":
        if len(parts) != 2:
            raise StrategyError(f"bid strategy {text!r}: 'fixed' takes one amount in ether, e.g. 'fixed 0.25'")
        try:
            amount = Decimal(parts[1]) * ETHER
        except InvalidOperation:
            raise StrategyError(f"bid strategy {text!r}: {parts[1]!r} is not an amount of ether") from None
        if amount <= 0 or amount != amount.to_integral_value():
            raise StrategyError(f"bid strategy {text!r}: the amount must be > 0 and a whole number of wei")
        return BidStrategy("fixed", amount_wei=int(amount))
    if len(parts) != 1:
        raise StrategyError(f"bid strategy {text!r}: {kind!r} takes no argument")
    if kind == "value":
        if expected_mev_wei < 0 or not 0 < shading <= 1:
            raise StrategyError("strategy value needs expected_mev_wei >= 0 and 0 < shading <= 1")
        return BidStrategy("value", expected_mev_wei=expected_mev_wei, shading=shading)
    return BidStrategy("off")
