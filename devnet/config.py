"""devnet.toml: every knob of a devnet, with defaults; command-line flags override it.

    [devnet]  state_dir, mode
    [l1]      host, port, chain_id, block_time, epoch_length, inclusion_window, forced_inclusion_fee_wei,
              rpc_url and key (an existing L1 to deploy to instead of starting Anvil, and the funded
              key that deploys there and funds the sequencers; test controls then default to off)
    [l2]      chain_id, block_time, gas_limit, dev_accounts, dev_balance_eth
    [nodes]   gateway_port, verifier_port, sequencer_port (first of N), censor, watchtower, test_controls
    [sequencers] count, stake_eth, min_stake_eth, committee_threshold, liveness_timeout,
              unbonding_delay, reporter_share_bps
    [batcher] max_blocks, max_seconds, compression
    [auction] close_offset, reveal_window, reserve_price_wei, penalty_bps, burn_bps, strategies
              (one per sequencer, cycled: off | "fixed AMOUNT" | value), expected_mev_wei, shading
    [[chains]] chain_id, block_time, gas_limit, alloc: one table per L2 chain (default: one chain,
              [l2] chain_id); unset keys take [l2]'s values; alloc = {"0xaddress" = wei, ...} adds
              genesis balances beyond the dev accounts

Each chain gets its own gateway, verifier and RPC port on every node; chain i > 0 uses the ports
of chain 0 plus 100 * i (a port of 0 stays "any free port").

A port of 0 means "any free port". Unknown sections or keys are errors, not silently ignored.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from eth_utils import is_address

from toolkit.modes import UnknownMode, mode_named


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class L1Settings:
    host: str = "127.0.0.1"
    port: int = 8545
    chain_id: int = 31337
    block_time: float = 1.0
    epoch_length: int = 32
    inclusion_window: int = 10  # L1 blocks a forced transaction may wait
    forced_inclusion_fee_wei: int = 10**15
    rpc_url: str = ""  # an existing L1 (a running Anvil, geth --dev): deploy there, start no Anvil
    key: str = ""  # with rpc_url: the funded L1 key that deploys and funds the sequencers

    @property
    def external(self) -> bool:
        return bool(self.rpc_url)


@dataclass(frozen=True)
class L2Settings:
    chain_id: int = 901
    block_time: float = 1.0
    gas_limit: int = 30_000_000
    dev_accounts: int = 10
    dev_balance_eth: int = 10_000


@dataclass(frozen=True)
class NodeSettings:
    gateway_port: int = 9545  # the stable client URL of the chain
    verifier_port: int = 9546
    sequencer_port: int = 9547  # sequencer i listens on sequencer_port + i
    censor: list[str] = field(default_factory=list)
    watchtower: bool = True  # nodes submit slashing evidence they see (modes that slash)
    test_controls: bool = True  # devnet_* on each node's own /admin endpoint, never through the gateway


@dataclass(frozen=True)
class SequencerSettings:
    count: int = 3  # validators (pos) or operators (committee); mode single always runs one
    stake_eth: int = 10
    min_stake_eth: int = 1
    committee_threshold: int = 0  # M of N; 0 = a majority
    liveness_timeout: int = 8
    unbonding_delay: int = 10
    reporter_share_bps: int = 1000


@dataclass(frozen=True)
class BatcherSettings:
    max_blocks: int = 10
    max_seconds: float = 3.0
    compression: str = "zlib"


@dataclass(frozen=True)
class AuctionSettings:
    """Mode auction: SequencerAuction's parameters and the nodes' bidding strategies."""

    close_offset: int = 8  # bidding for epoch e closes this many L1 blocks before e starts
    reveal_window: int = 3  # L1 blocks of reveals after the close (< close_offset)
    reserve_price_wei: int = 10**15
    penalty_bps: int = 1000  # share of an unrevealed commitment's collateral forfeited
    burn_bps: int = 0  # share of the proceeds burned
    strategies: list[str] = field(default_factory=lambda: ["value", "fixed 0.005", "off"])  # sequencer i: [i % n]
    expected_mev_wei: int = 10**16  # strategy value: bid = expected_mev_wei x shading
    shading: float = 0.8

    def strategy_of(self, index: int) -> str:
        return self.strategies[index % len(self.strategies)]


MAX_CHAINS = 8
CHAIN_PORT_STRIDE = 100  # chain i > 0 listens on chain 0's ports + 100 * i


@dataclass(frozen=True)
class ChainSettings:
    """One L2 chain; None means "as [l2] says"."""

    chain_id: int
    block_time: float | None = None
    gas_limit: int | None = None
    alloc: tuple[tuple[str, int], ...] = ()  # extra genesis balances (address, wei)


@dataclass(frozen=True)
class DevnetConfig:
    state_dir: Path = Path(".devnet")
    mode: str = "single"
    l1: L1Settings = field(default_factory=L1Settings)
    l2: L2Settings = field(default_factory=L2Settings)
    nodes: NodeSettings = field(default_factory=NodeSettings)
    sequencers: SequencerSettings = field(default_factory=SequencerSettings)
    batcher: BatcherSettings = field(default_factory=BatcherSettings)
    auction: AuctionSettings = field(default_factory=AuctionSettings)
    chains: tuple[ChainSettings, ...] = ()  # empty: one chain, [l2] chain_id

    @property
    def chain_list(self) -> tuple[ChainSettings, ...]:
        """Every L2 chain of the devnet, in order (the first is the default of CLI commands)."""
        return self.chains or (ChainSettings(self.l2.chain_id),)

    def chain_block_time(self, chain: ChainSettings) -> float:
        return self.l2.block_time if chain.block_time is None else chain.block_time

    def chain_gas_limit(self, chain: ChainSettings) -> int:
        return self.l2.gas_limit if chain.gas_limit is None else chain.gas_limit

    @property
    def sequencer_count(self) -> int:
        return mode_named(self.mode).sequencer_count(self.sequencers.count)

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def validate(self) -> DevnetConfig:
        try:
            mode = mode_named(self.mode)
        except UnknownMode as exc:
            raise ConfigError(str(exc)) from exc
        chain_problem = mode.check_chain_count(len(self.chain_list))
        if chain_problem is not None:
            raise ConfigError(chain_problem)
        if self.l1.external:
            if not self.l1.rpc_url.startswith(("http://", "https://")):
                raise ConfigError(f"l1.rpc_url must be an http(s) URL, got {self.l1.rpc_url!r}")
            if not _is_private_key(self.l1.key):
                raise ConfigError("l1.rpc_url needs l1.key (--l1-key): a funded L1 private key, 0x + 64 hex "
                                  "digits, that deploys the contracts and funds the sequencers")
        elif self.l1.key:
            raise ConfigError("l1.key is only used with l1.rpc_url (--l1-rpc); the devnet's own Anvil funds itself")
        if self.l1.block_time <= 0:
            raise ConfigError("l1.block_time must be > 0 (epochs and deadlines count L1 blocks)")
        if self.l2.block_time < 0:
            raise ConfigError("l2.block_time must be >= 0 (0 = a block per transaction)")
        if self.l2.chain_id == self.l1.chain_id:
            raise ConfigError("l2.chain_id must differ from l1.chain_id")
        self._validate_chains()
        if self.l1.epoch_length < 1:
            raise ConfigError("l1.epoch_length must be >= 1")
        if self.l1.inclusion_window < 1 or self.l1.forced_inclusion_fee_wei < 0:
            raise ConfigError("l1.inclusion_window must be >= 1 and l1.forced_inclusion_fee_wei >= 0")
        for address in self.nodes.censor:
            if not is_address(address):
                raise ConfigError(f"nodes.censor: {address!r} is not an address")
        if self.batcher.max_blocks < 1 or self.batcher.max_seconds <= 0:
            raise ConfigError("batcher.max_blocks must be >= 1 and batcher.max_seconds > 0")
        if self.batcher.compression not in ("zlib", "brotli", "none"):
            raise ConfigError("batcher.compression must be zlib, brotli or none")
        if not 1 <= self.l2.dev_accounts <= 100:
            raise ConfigError("l2.dev_accounts must be between 1 and 100")
        if not 1 <= self.sequencers.count <= 21:
            raise ConfigError("sequencers.count must be between 1 and 21")
        if self.sequencers.committee_threshold > self.sequencers.count:
            raise ConfigError("sequencers.committee_threshold cannot exceed sequencers.count")
        if self.sequencers.stake_eth < self.sequencers.min_stake_eth or self.sequencers.min_stake_eth < 1:
            raise ConfigError("sequencers.stake_eth must be >= sequencers.min_stake_eth >= 1")
        if self.sequencers.liveness_timeout < 1:
            raise ConfigError("sequencers.liveness_timeout must be >= 1")
        self._validate_auction()
        sequencer_ports = (
            [self.nodes.sequencer_port + i for i in range(self.sequencer_count)] if self.nodes.sequencer_port else []
        )
        ports = [p for p in (self.l1.port, self.nodes.gateway_port, self.nodes.verifier_port) if p] + sequencer_ports
        if len(ports) != len(set(ports)):
            raise ConfigError(f"ports must differ: {sorted(ports)}")
        return self

    def _validate_auction(self) -> None:
        from toolkit.sequencer.bid_strategy import StrategyError, parse_strategy

        auction = self.auction
        if auction.reveal_window < 1 or auction.close_offset <= auction.reveal_window:
            raise ConfigError("auction.close_offset must be > auction.reveal_window >= 1 (time to settle)")
        if not 0 <= auction.penalty_bps <= 10_000 or not 0 <= auction.burn_bps <= 10_000:
            raise ConfigError("auction.penalty_bps and auction.burn_bps must be between 0 and 10000")
        if auction.reserve_price_wei < 0 or auction.expected_mev_wei < 0:
            raise ConfigError("auction.reserve_price_wei and auction.expected_mev_wei must be >= 0")
        if not auction.strategies:
            raise ConfigError("auction.strategies needs at least one strategy")
        for text in auction.strategies:
            if not isinstance(text, str):
                raise ConfigError(f"auction.strategies: {text!r} is not a string")
            try:
                parse_strategy(text, auction.expected_mev_wei, auction.shading)
            except StrategyError as exc:
                raise ConfigError(f"auction.strategies: {exc}") from exc

    def _validate_chains(self) -> None:
        chains = self.chain_list
        if not 1 <= len(chains) <= MAX_CHAINS:
            raise ConfigError(f"a devnet runs 1 to {MAX_CHAINS} L2 chains, not {len(chains)}")
        ids = [c.chain_id for c in chains]
        if len(ids) != len(set(ids)):
            raise ConfigError(f"chain ids must differ: {ids}")
        for chain in chains:
            if not 0 < chain.chain_id < 2**64 or chain.chain_id == self.l1.chain_id:
                raise ConfigError(f"chain id {chain.chain_id} must be in 1..2^64-1 and differ from the L1's")
            if self.chain_block_time(chain) < 0 or self.chain_gas_limit(chain) < 21_000:
                raise ConfigError(f"chain {chain.chain_id}: block_time must be >= 0 and gas_limit >= 21000")
            for address, wei in chain.alloc:
                if not is_address(address) or wei < 0:
                    raise ConfigError(f"chain {chain.chain_id}: alloc {address!r} = {wei!r} is not address = wei")
        if len(chains) > 1 and any(
            port and port + CHAIN_PORT_STRIDE * (len(chains) - 1) > 65535
            for port in (self.nodes.gateway_port, self.nodes.verifier_port, self.nodes.sequencer_port)
        ):
            raise ConfigError("ports of the last chain would pass 65535: choose lower ports or 0")


def parse_chains(value: Any) -> tuple[ChainSettings, ...]:
    """[[chains]] tables, or a comma-separated id list ("901,902") from `--chains`."""
    if isinstance(value, str):
        try:
            return tuple(ChainSettings(int(part)) for part in value.split(",") if part.strip())
        except ValueError as exc:
            raise ConfigError(f"--chains expects chain ids like 901,902, not {value!r}") from exc
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError("[[chains]] must be an array of tables")
    chains = []
    for item in value:
        unknown = set(item) - {"chain_id", "block_time", "gas_limit", "alloc"}
        if unknown:
            raise ConfigError(f"unknown key [[chains]] {sorted(unknown)[0]}; known: chain_id, block_time, gas_limit, alloc")
        chain_id = item.get("chain_id")
        if not isinstance(chain_id, int) or isinstance(chain_id, bool):
            raise ConfigError(f"[[chains]] chain_id must be an integer, got {chain_id!r}")
        block_time = item.get("block_time")
        if block_time is not None and (isinstance(block_time, bool) or not isinstance(block_time, int | float)):
            raise ConfigError(f"[[chains]] block_time must be a number, got {block_time!r}")
        gas_limit = item.get("gas_limit")
        if gas_limit is not None and (isinstance(gas_limit, bool) or not isinstance(gas_limit, int)):
            raise ConfigError(f"[[chains]] gas_limit must be an integer, got {gas_limit!r}")
        alloc = item.get("alloc", {})
        if not isinstance(alloc, dict) or not all(
            isinstance(v, int | str) and not isinstance(v, bool) for v in alloc.values()
        ):
            raise ConfigError('[[chains]] alloc must be a table of "0xaddress" = wei')
        try:
            balances = tuple((address, int(wei, 0) if isinstance(wei, str) else wei) for address, wei in alloc.items())
        except ValueError as exc:
            raise ConfigError(f"[[chains]] alloc: {exc}") from exc
        chains.append(ChainSettings(chain_id, None if block_time is None else float(block_time), gas_limit, balances))
    return tuple(chains)


_SECTIONS: dict[str, type] = {
    "l1": L1Settings, "l2": L2Settings, "nodes": NodeSettings, "sequencers": SequencerSettings,
    "batcher": BatcherSettings, "auction": AuctionSettings,
}


def _typed(section: str, cls: type, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    result = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key [{section}] {key}; known: {', '.join(known)}")
        default = getattr(cls(), key)
        expected = type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(default, bool):
            raise ConfigError(f"[{section}] {key} must be {expected.__name__}, got {value!r}")
        result[key] = value
    return cls(**result)


def _is_private_key(value: str) -> bool:
    digits = value.removeprefix("0x")
    return len(digits) == 64 and all(c in "0123456789abcdefABCDEF" for c in digits)


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> DevnetConfig:
    """Read devnet.toml (if given or present) and apply dotted overrides such as {"l1.port": 0}."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        if dotted == "chains":  # the --chains quick form replaces [[chains]]
            raw["chains"] = value
            continue
        section, _, key = dotted.partition(".")
        raw.setdefault(section, {})[key] = value
    if isinstance(raw.get("l1"), dict) and raw["l1"].get("rpc_url") and isinstance(raw.setdefault("nodes", {}), dict):
        raw["nodes"].setdefault("test_controls", False)  # a shared L1: test controls only when asked for
    config = DevnetConfig()
    for section, values in raw.items():
        if section == "chains":
            config = replace(config, chains=parse_chains(values))
        elif section == "devnet":
            for key, value in values.items():
                if key == "state_dir":
                    config = replace(config, state_dir=Path(value))
                elif key == "mode":
                    config = replace(config, mode=str(value))
                else:
                    raise ConfigError(f"unknown key [devnet] {key}; known: state_dir, mode")
        elif section in _SECTIONS:
            if not isinstance(values, dict):
                raise ConfigError(f"[{section}] must be a table")
            current = {f.name: getattr(getattr(config, section), f.name) for f in fields(_SECTIONS[section])}
            current.update(values)
            config = replace(config, **{section: _typed(section, _SECTIONS[section], current)})
        else:
            raise ConfigError(f"unknown section [{section}]; known: devnet, {', '.join(_SECTIONS)}, chains")
    return config.validate()
