"""Log filter criteria (address, topics) as eth_getLogs / eth_subscribe("logs") define them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import is_address, to_canonical_address

from toolkit.rpc.errors import invalid_params


def _topic(value: Any) -> int:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise invalid_params(f"bad topic {value!r}")
    return int(value, 16)


@dataclass(frozen=True)
class LogCriteria:
    addresses: frozenset[bytes]  # empty: any address
    topics: tuple[frozenset[int] | None, ...]  # None: any topic at that position

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> LogCriteria:
        address = spec.get("address")
        raw_addresses = [] if address is None else address if isinstance(address, list) else [address]
        for a in raw_addresses:
            if not isinstance(a, str) or not is_address(a):
                raise invalid_params(f"bad address {a!r}")
        topics: list[frozenset[int] | None] = []
        for position in spec.get("topics") or []:
            if position is None:
                topics.append(None)
            elif isinstance(position, list):
                topics.append(frozenset(_topic(t) for t in position) if position else None)
            else:
                topics.append(frozenset([_topic(position)]))
        if len(topics) > 4:
            raise invalid_params("at most 4 topic positions")
        return cls(frozenset(to_canonical_address(a) for a in raw_addresses), tuple(topics))

    def matches(self, log_address: bytes, log_topics: tuple[int, ...]) -> bool:
        if self.addresses and bytes(log_address) not in self.addresses:
            return False
        if len(self.topics) > len(log_topics):
            return False
        return all(wanted is None or log_topics[i] in wanted for i, wanted in enumerate(self.topics))
