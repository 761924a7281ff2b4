"""A node process's configuration (written by `devnet up`, read by `python -m toolkit.node`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.l2.chain_config import L2ChainConfig
from toolkit.modes import UnknownMode, mode_named

ADMIN_PATH = "/admin"  # a node's own endpoint for test controls (devnet_*), when enabled


class NodeConfigError(ValueError):
    pass


@dataclass(frozen=True)
class NodeConfig:
    name: str
    role: str  # "sequencer": has a key, builds and posts while L1 names it leader; "verifier": follows
    chain: L2ChainConfig
    l1_rpc_url: str
    inbox_address: str
    registry_address: str
    host: str = "127.0.0.1"
    port: int = 0
    l1_start_block: int = 0
    l1_chain_id: int = 31337  # with the Inbox address: the signing domain of blocks and attestations
    private_key: str | None = None
    peers: tuple[str, ...] = ()  # p2p base URLs the node gossips its blocks to
    sequencer_url: str | None = None  # where a verifier forwards transactions
    block_time: float = 1.0  # seconds; 0 = one block per transaction, as soon as it arrives
    batch_max_blocks: int = 10
    batch_max_seconds: float = 3.0
    batch_compression: str = "zlib"
    l1_poll_seconds: float = 0.25
    censored: tuple[str, ...] = field(default_factory=tuple)
    mode: str = "single"  # a name from toolkit.modes.MODES: which registry the L1 holds
    validator_urls: dict[str, str] = field(default_factory=dict)  # keyed node address -> its base URL
    data_dir: str | None = None  # where the node keeps its signing journal (slashing protection)
    watchtower: bool = True  # report slashable evidence to L1 (modes that slash)
    reporter_key: str | None = None  # L1 key a keyless node (verifier) reports evidence with
    test_controls: bool = False  # serve devnet_* on POST /admin (never on "/", so never via the gateway)
    bid_strategy: str = "off"  # mode auction: off | fixed AMOUNT (ether) | value (toolkit/sequencer/bidder.py)
    bid_expected_mev_wei: int = 0  # strategy value: expected MEV of an epoch
    bid_shading: float = 1.0  # strategy value: bid = expected MEV x shading

    def __post_init__(self) -> None:
        if self.role not in ("sequencer", "verifier"):
            raise NodeConfigError(f"role must be 'sequencer' or 'verifier', not {self.role!r}")
        if self.role == "sequencer" and not self.private_key:
            raise NodeConfigError(f"node {self.name}: a sequencer needs a private_key")
        if self.block_time < 0:
            raise NodeConfigError("block_time must be >= 0")
        if self.batch_max_blocks < 1:
            raise NodeConfigError("batch_max_blocks must be >= 1")
        try:
            mode_named(self.mode)
        except UnknownMode as exc:
            raise NodeConfigError(str(exc)) from exc
        from toolkit.sequencer.bid_strategy import StrategyError, parse_strategy

        try:
            parse_strategy(self.bid_strategy, self.bid_expected_mev_wei, self.bid_shading)
        except StrategyError as exc:
            raise NodeConfigError(f"node {self.name}: {exc}") from exc
        if self.batch_compression not in ("zlib", "brotli", "none"):
            raise NodeConfigError("batch_compression must be zlib, brotli or none")

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items()}
        data["chain"] = self.chain.to_json()
        data["peers"] = list(self.peers)
        data["censored"] = list(self.censored)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeConfig:
        values = dict(data)
        try:
            values["chain"] = L2ChainConfig.from_json(values["chain"])
            values["peers"] = tuple(values.get("peers", ()))
            values["censored"] = tuple(values.get("censored", ()))
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise NodeConfigError(f"bad node config: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise NodeConfigError(f"cannot read node config {path}: {exc}") from exc
