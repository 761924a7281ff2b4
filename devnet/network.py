"""Bring a whole devnet up and down: Anvil, contracts, node processes, state file.

Used by the CLI (`devnet up`) and by tests. Every process started here is owned: started on a
checked port, waited for until ready, logged to <state_dir>/logs, stopped by `down()`.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account

from devnet.config import CHAIN_PORT_STRIDE, ChainSettings, DevnetConfig
from devnet.deploy import Deployment, RegistrySettings, deploy_contracts
from devnet.rpc import http_json, rpc_call
from devnet.saved import SavedDevnet, settings_of
from devnet.state import write_state
from devnet.supervisor import ManagedProcess, ProcessFailed, free_port, port_in_use
from toolkit.accounts import DevAccount, _derive, dev_accounts
from toolkit.gateway import GatewayConfig
from toolkit.l1.artifacts import find_foundry_tool
from toolkit.l2.chain_config import GenesisAccount, L2ChainConfig
from toolkit.node.config import ADMIN_PATH, NodeConfig

log = logging.getLogger(__name__)

READY_SECONDS = 60.0
WATCH_SECONDS = 0.2  # how often the supervisor looks for crashed processes to restart
SEQUENCER_KEY_INDEX = 100  # operator keys come from the mnemonic past the users' dev accounts
REPORTER_KEY_INDEX = 99  # the verifier's watchtower key
ETHER = 10**18
OPERATOR_GAS_ETH = 10  # ETH each sequencer (and the reporter) gets for L1 gas on an existing L1


class DevnetError(RuntimeError):
    pass


@dataclass
class Devnet:
    config: DevnetConfig
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    node_configs: dict[str, tuple[NodeConfig, ...]] = field(default_factory=dict)  # name -> one per chain
    gateway_urls: dict[int, str] = field(default_factory=dict)  # chain id -> its gateway
    restarts: dict[str, int] = field(default_factory=dict)  # process name -> restarts after a crash
    l1_chain_id: int = 0  # the L1's eth_chainId, once up (the configured one, or what an existing L1 says)
    saved: SavedDevnet | None = None  # start this saved devnet (`up --load DIR`) instead of a new one
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _watchdog: threading.Thread | None = field(default=None, repr=False)

    @property
    def chain_ids(self) -> list[int]:
        return [chain.chain_id for chain in self.config.chain_list]

    @property
    def gateway_url(self) -> str:
        """The first chain's gateway (the default chain of the CLI and of single-chain tests)."""
        return self.gateway_urls.get(self.chain_ids[0], "")

    def gateway_process_name(self, chain_id: int) -> str:
        return "gateway" if chain_id == self.chain_ids[0] else f"gateway-{chain_id}"

    @property
    def state_dir(self) -> Path:
        return self.config.state_dir

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def sequencer_names(self) -> list[str]:
        return [f"sequencer-{i}" for i in range(self.config.sequencer_count)]

    def up(self) -> dict[str, Any]:
        """Start everything and return the state (also written to the state file)."""
        started = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # A new devnet's nodes start with empty data dirs: a signing journal left by an earlier devnet
        # in this state dir names blocks of another chain (same chain id, same Inbox address on a
        # fresh Anvil), which the leader would take for its own signatures and re-sign as equivocation.
        shutil.rmtree(self.state_dir / "nodes", ignore_errors=True)
        try:
            ports = self._choose_ports()
            operators = [_derive_operator(i) for i in range(self.config.sequencer_count)]
            settings = self.config.sequencers
            funding: dict[str, int] = {}
            if self.saved is not None:
                l1_url, deployer_key = self._start_anvil(ports["l1"], self.saved.l1_state_path), ""
            elif self.config.l1.external:
                l1_url, deployer_key = self._connect_l1(), self.config.l1.key
                funding = {op.address: (settings.stake_eth + OPERATOR_GAS_ETH) * ETHER for op in operators}
                funding[_derive_reporter().address] = OPERATOR_GAS_ETH * ETHER
                self._check_funds(l1_url, deployer_key, sum(funding.values()))
            else:
                l1_url, deployer_key = self._start_anvil(ports["l1"]), dev_accounts(1)[0].private_key
                for account in [*operators, _derive_reporter()]:
                    rpc_call(l1_url, "anvil_setBalance", [account.address, hex(1000 * ETHER)])
            deployment = self.saved.deployment if self.saved is not None else deploy_contracts(
                l1_url, deployer_key, self.config.mode, self.chain_ids,
                [operator.private_key for operator in operators],
                RegistrySettings(
                    epoch_length=self.config.l1.epoch_length, liveness_timeout=settings.liveness_timeout,
                    committee_threshold=settings.committee_threshold, min_stake_wei=settings.min_stake_eth * ETHER,
                    stake_wei=settings.stake_eth * ETHER, unbonding_delay=settings.unbonding_delay,
                    reporter_share_bps=settings.reporter_share_bps,
                    auction_close_offset=self.config.auction.close_offset,
                    auction_reveal_window=self.config.auction.reveal_window,
                    auction_reserve_price_wei=self.config.auction.reserve_price_wei,
                    auction_penalty_bps=self.config.auction.penalty_bps,
                    auction_burn_bps=self.config.auction.burn_bps,
                ),
                self.config.l1.inclusion_window, self.config.l1.forced_inclusion_fee_wei, funding,
                mine_now=not self.config.l1.external,
            )
            chains = [self._chain_config(chain) for chain in self.config.chain_list]
            self._check_saved_genesis(chains)
            self._start_nodes(l1_url, deployment, chains, operators, ports)
            for chain in chains:  # while the nodes catch up: a gateway copes with nodes not ready yet
                self._start_gateway(l1_url, deployment, chain.chain_id, ports[("gateway", chain.chain_id)])
            for name in self.node_configs:
                self.wait_node_ready(name)
            for chain in chains:
                self._wait_gateway_ready(chain.chain_id)
            self._check_saved_heads()
        except BaseException:
            self.down()
            raise
        self.state = self._describe(l1_url, deployment, chains, operators, time.monotonic() - started)
        write_state(self.config.state_file, self.state)
        self._watchdog = threading.Thread(target=self._watch, name="devnet-watchdog", daemon=True)
        self._watchdog.start()
        return self.state

    # ----- the supervisor restarts what crashed -----
    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_SECONDS):
            try:
                self.restart_crashed()
            except Exception:  # keep watching: one failed restart is retried on the next round
                log.exception("restarting a crashed process failed")

    def restart_crashed(self) -> list[str]:
        """Start again, at once, every gateway and node that died without being stopped or killed
        on purpose (Anvil is not restarted: its chain would be gone). Returns their names."""
        restarted = []
        with self._lock:
            for name, process in list(self.processes.items()):
                if name == "anvil" or process.held or process.alive() or self._stopping.is_set():
                    continue
                code = process.process.returncode if process.process is not None else None
                log.warning("%s exited (code %s) without being stopped: restarting it", name, code)
                if name in self.node_configs:
                    self.start_node(name)
                else:
                    again = ManagedProcess(name, process.argv, process.log_path)
                    again.start()
                    self.processes[name] = again
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self._record_pid(name, self.processes[name].pid)
                restarted.append(name)
        return restarted

    def _choose_ports(self) -> dict[Any, int]:
        """"l1" and (name, chain id) -> port; chain i > 0 uses chain 0's configured ports + 100 * i."""
        host = self.config.l1.host
        nodes = self.config.nodes
        wanted: dict[Any, int] = {} if self.config.l1.external else {"l1": self.config.l1.port}
        for index, chain_id in enumerate(self.chain_ids):
            offset = CHAIN_PORT_STRIDE * index

            def shifted(port: int, offset: int = offset) -> int:
                return port + offset if port else 0

            wanted[("gateway", chain_id)] = shifted(nodes.gateway_port)
            wanted[("verifier-0", chain_id)] = shifted(nodes.verifier_port)
            for i, name in enumerate(self.sequencer_names):
                wanted[(name, chain_id)] = shifted(nodes.sequencer_port + i) if nodes.sequencer_port else 0
        chosen: dict[Any, int] = {}
        for key, port in wanted.items():
            if port == 0:
                port = free_port(host)
                while port in chosen.values():
                    port = free_port(host)
            elif port_in_use(port, host):
                what = key if isinstance(key, str) else f"{key[0]} of chain {key[1]}"
                raise DevnetError(
                    f"port {port} for {what} on {host} is already in use: stop what holds it "
                    f"(another devnet? `devnet down`) or choose another port in devnet.toml or with a flag"
                )
            chosen[key] = port
        return chosen

    def _connect_l1(self) -> str:
        """The configured existing L1: reachable, and with a chain id no L2 of ours uses."""
        url = self.config.l1.rpc_url
        try:
            chain_id = int(rpc_call(url, "eth_chainId", timeout=5), 16)
        except Exception as exc:
            raise DevnetError(f"cannot reach the L1 at {url} ({exc}): is it running?") from exc
        if chain_id in self.chain_ids:
            raise DevnetError(f"the L1 at {url} has chain id {chain_id}, which is also an L2 chain id here; "
                              "choose other L2 chain ids (--chains or [[chains]])")
        self.l1_chain_id = chain_id
        return url

    def _check_funds(self, url: str, key: str, needed: int) -> None:
        address = Account.from_key(key).address
        balance = int(rpc_call(url, "eth_getBalance", [address, "latest"]), 16)
        if balance < needed + ETHER:  # and some for the deployment's own gas
            raise DevnetError(f"the L1 key's account {address} holds {balance / ETHER:g} ETH at {url}; funding "
                              f"{self.config.sequencer_count} sequencers (stake + gas) and the reporter needs "
                              f"{needed / ETHER + 1:g} ETH")

    def _start_anvil(self, port: int, load_state: Path | None = None) -> str:
        host = self.config.l1.host
        block_time = self.config.l1.block_time
        argv = [
            str(find_foundry_tool("anvil")), "--host", host, "--port", str(port),
            "--chain-id", str(self.config.l1.chain_id), "--block-time", f"{block_time:g}",
            "--accounts", str(self.config.l2.dev_accounts), "--balance", str(self.config.l2.dev_balance_eth),
        ]
        if load_state is not None:  # a saved devnet's L1: its blocks, receipts and the state at each block
            argv += ["--load-state", str(load_state)]
        process = ManagedProcess("anvil", argv, self.log_dir / "anvil.log")
        process.start()
        self.processes["anvil"] = process
        url = f"http://{host}:{port}"
        process.wait_ready(lambda: rpc_call(url, "eth_chainId", timeout=1) is not None, READY_SECONDS)
        self.l1_chain_id = self.config.l1.chain_id
        return url

    def _chain_config(self, chain: ChainSettings) -> L2ChainConfig:
        balance = self.config.l2.dev_balance_eth * ETHER
        alloc = tuple(GenesisAccount(a.address, balance) for a in dev_accounts(self.config.l2.dev_accounts))
        alloc += tuple(GenesisAccount(address, wei) for address, wei in chain.alloc)
        saved_timestamp = self.saved.genesis_timestamps.get(chain.chain_id) if self.saved is not None else None
        return L2ChainConfig(
            chain_id=chain.chain_id,
            genesis_timestamp=int(time.time()) - 1 if saved_timestamp is None else saved_timestamp,
            alloc=alloc,
            gas_limit=self.config.chain_gas_limit(chain),
        )

    def _check_saved_genesis(self, chains: list[L2ChainConfig]) -> None:
        """A loaded devnet's chains start from the very genesis blocks they were saved with."""
        if self.saved is None:
            return
        for chain in chains:
            genesis = "0x" + _genesis_hash(chain).hex()
            if genesis != self.saved.genesis_hashes.get(chain.chain_id):
                raise DevnetError(f"chain {chain.chain_id}: the saved settings give genesis {genesis}, the save says "
                                  f"{self.saved.genesis_hashes.get(chain.chain_id)}: the save is damaged or from "
                                  "another version")

    def _check_saved_heads(self) -> None:
        """Every node re-derived each chain from the loaded L1 up to the saved safe head, block for block."""
        if self.saved is None:
            return
        for chain_id, head in self.saved.heads.items():
            for name in self.node_configs:
                block = rpc_call(self.node_url(name, chain_id), "eth_getBlockByNumber", [hex(head.number), False])
                found = block["hash"] if block else None
                if found != head.hash:
                    raise DevnetError(f"{name} derived chain {chain_id}'s block {head.number} as {found} from the "
                                      f"loaded L1, the save says {head.hash}: the save is damaged")

    def _start_nodes(
        self, l1_url: str, deployment: Deployment, chains: list[L2ChainConfig], operators: list[DevAccount],
        ports: dict[Any, int],
    ) -> None:
        """One process per node name; each serves every chain, on a port of its own per chain."""
        host = self.config.l1.host
        names = [*self.sequencer_names, "verifier-0"]
        per_name: dict[str, list[NodeConfig]] = {name: [] for name in names}
        for chain, settings in zip(chains, self.config.chain_list, strict=True):
            urls = {name: f"http://{host}:{ports[(name, chain.chain_id)]}" for name in names}
            validator_urls = {op.address: urls[name] for op, name in zip(operators, self.sequencer_names, strict=True)}
            common = {
                "chain": chain,
                "l1_rpc_url": l1_url,
                "inbox_address": deployment.inbox,
                "registry_address": deployment.registry,
                "host": host,
                "l1_start_block": deployment.block,
                "l1_chain_id": self.l1_chain_id,
                "block_time": self.config.chain_block_time(settings),
                "batch_max_blocks": self.config.batcher.max_blocks,
                "batch_max_seconds": self.config.batcher.max_seconds,
                "batch_compression": self.config.batcher.compression,
                "mode": self.config.mode,
                "watchtower": self.config.nodes.watchtower,
                "test_controls": self.config.nodes.test_controls,
                "validator_urls": validator_urls,
                "sequencer_url": urls["sequencer-0"],
            }
            auction = self.config.auction
            for index, (operator, name) in enumerate(zip(operators, self.sequencer_names, strict=True)):
                per_name[name].append(NodeConfig(
                    name=name, role="sequencer", port=ports[(name, chain.chain_id)], private_key=operator.private_key,
                    data_dir=str(self.state_dir / "nodes" / name),
                    peers=tuple(url for other, url in urls.items() if other != name),
                    censored=tuple(self.config.nodes.censor), bid_strategy=auction.strategy_of(index),
                    bid_expected_mev_wei=auction.expected_mev_wei, bid_shading=auction.shading, **common,
                ))
            per_name["verifier-0"].append(NodeConfig(
                name="verifier-0", role="verifier", port=ports[("verifier-0", chain.chain_id)],
                data_dir=str(self.state_dir / "nodes" / "verifier-0"), reporter_key=_derive_reporter().private_key,
                **common,
            ))
        self.node_configs = {name: tuple(configs) for name, configs in per_name.items()}
        for name in self.node_configs:
            self.start_node(name)

    def _start_gateway(self, l1_url: str, deployment: Deployment, chain_id: int, port: int) -> None:
        host = self.config.l1.host
        name = self.gateway_process_name(chain_id)
        gateway_config = GatewayConfig(
            chain_id=chain_id, host=host, port=port, l1_rpc_url=l1_url,
            inbox_address=deployment.inbox, registry_address=deployment.registry, mode=self.config.mode,
            nodes={node: self.node_url(node, chain_id) for node in self.node_configs},
            validator_urls=dict(next(c for c in self.node_configs["verifier-0"]
                                     if c.chain.chain_id == chain_id).validator_urls),
            test_controls=self.config.nodes.test_controls,
        )
        path = self.state_dir / "nodes" / f"{name}.json"
        path.write_text(json.dumps(asdict(gateway_config), indent=2))
        process = ManagedProcess(
            name, [sys.executable, "-m", "toolkit.gateway", "--config", str(path)], self.log_dir / f"{name}.log"
        )
        process.start()
        self.processes[name] = process
        self.gateway_urls[chain_id] = f"http://{host}:{port}"

    def _wait_gateway_ready(self, chain_id: int) -> None:
        """The gateway answers and sees every node healthy (they are ready by now)."""
        url = self.gateway_urls[chain_id]
        self.processes[self.gateway_process_name(chain_id)].wait_ready(
            lambda: all(http_json(url, 1)["healthy"].values()), READY_SECONDS)

    def node_url(self, name: str, chain_id: int | None = None) -> str:
        """The RPC URL of node `name` for a chain (default: the first chain)."""
        configs = self.node_configs[name]
        node_config = next((c for c in configs if chain_id is None or c.chain.chain_id == chain_id), None)
        if node_config is None:
            raise DevnetError(f"node {name} serves no chain {chain_id}; chains: {self.chain_ids}")
        return f"http://{node_config.host}:{node_config.port}"

    def admin_url(self, name: str, chain_id: int | None = None) -> str:
        """Node `name`'s test-control endpoint (devnet_* methods), when the devnet enables them."""
        if not self.config.nodes.test_controls:
            raise DevnetError("test controls are off on this devnet ([nodes] test_controls = false)")
        return self.node_url(name, chain_id) + ADMIN_PATH

    def start_node(self, name: str) -> None:
        with self._lock:
            self._start_node(name)

    def _start_node(self, name: str) -> None:
        config_path = self.state_dir / "nodes" / f"{name}.json"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        process_config = {"name": name, "chains": [c.to_json() for c in self.node_configs[name]]}
        config_path.write_text(json.dumps(process_config, indent=2))
        process = ManagedProcess(
            name, [sys.executable, "-m", "toolkit.node", "--config", str(config_path)], self.log_dir / f"{name}.log"
        )
        process.start()
        self.processes[name] = process
        self._record_pid(name, process.pid)

    def _record_pid(self, name: str, pid: int | None) -> None:
        """A process restarted after `up` gets its new pid (and restart count) into the state file."""
        if not self.state:
            return
        for chain in self.state["chains"]:
            for entry in [*chain["nodes"], chain["gateway"]]:
                if entry.get("name") == name:
                    entry["pid"] = pid
                    entry["restarts"] = self.restarts.get(name, 0)
        write_state(self.config.state_file, self.state)

    def wait_node_ready(self, name: str, deadline_seconds: float = READY_SECONDS) -> None:
        """Every chain the node serves has caught up with L1."""
        urls = [self.node_url(name, chain_id) for chain_id in self.chain_ids]
        self.processes[name].wait_ready(
            lambda: all(http_json(f"{url}/health", 1)["ready"] for url in urls), deadline_seconds
        )

    def down(self) -> None:
        """Stop nodes first, then the L1; safe to call more than once."""
        self._stopping.set()
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join(10)
        gateways = [n for n in self.processes if n.startswith("gateway")]
        for name in gateways + [n for n in self.processes if n != "anvil" and n not in gateways] + ["anvil"]:
            process = self.processes.get(name)
            if process is not None:
                process.stop()

    def _describe(
        self, l1_url: str, deployment: Deployment, chains: list[L2ChainConfig], operators: list[DevAccount],
        seconds: float,
    ) -> dict[str, Any]:
        def node_entry(name: str, node_config: NodeConfig) -> dict[str, Any]:
            url = f"http://{node_config.host}:{node_config.port}"
            return {
                "name": name,
                "role": node_config.role,
                "address": Account.from_key(node_config.private_key).address if node_config.private_key else None,
                "reporter": Account.from_key(node_config.reporter_key).address if node_config.reporter_key else None,
                "rpc": url,
                "ws": url.replace("http://", "ws://"),
                "admin": url + ADMIN_PATH if node_config.test_controls else None,
                "pid": self.processes[name].pid,
                "log": str(self.processes[name].log_path),
                "config": str(self.state_dir / "nodes" / f"{name}.json"),
                "restarts": 0,
            }

        def chain_entry(chain: L2ChainConfig, settings: ChainSettings) -> dict[str, Any]:
            gateway_url = self.gateway_urls[chain.chain_id]
            gateway = self.processes[self.gateway_process_name(chain.chain_id)]
            return {
                "chain_id": chain.chain_id,
                "genesis_hash": "0x" + _genesis_hash(chain).hex(),
                "genesis_timestamp": chain.genesis_timestamp,
                "block_time": self.config.chain_block_time(settings),
                "rpc": gateway_url,
                "ws": gateway_url.replace("http://", "ws://"),
                "gateway": {"name": gateway.name, "rpc": gateway_url, "pid": gateway.pid,
                            "log": str(gateway.log_path), "restarts": 0,
                            "admin": gateway_url + ADMIN_PATH if self.config.nodes.test_controls else None},
                "nodes": [node_entry(name, next(c for c in configs if c.chain.chain_id == chain.chain_id))
                          for name, configs in self.node_configs.items()],
            }

        return {
            "mode": self.config.mode,
            "settings": settings_of(self.config),
            "loaded_from": str(self.saved.directory) if self.saved is not None else None,
            "ready": True,
            "started_at": int(time.time()),
            "startup_seconds": round(seconds, 2),
            "l1": {
                "rpc": l1_url,
                "ws": l1_url.replace("http://", "ws://"),
                "chain_id": self.l1_chain_id,
                "external": self.config.l1.external,
                "block_time": self.config.l1.block_time,
                "epoch_length": self.config.l1.epoch_length,
                "pid": self.processes["anvil"].pid if "anvil" in self.processes else None,
                "log": str(self.processes["anvil"].log_path) if "anvil" in self.processes else None,
            },
            "contracts": {deployment.registry_contract: deployment.registry, "Inbox": deployment.inbox},
            "registry": {"address": deployment.registry, "contract": deployment.registry_contract},
            "forced_inclusion": {
                "window_l1_blocks": self.config.l1.inclusion_window,
                "fee_wei": self.config.l1.forced_inclusion_fee_wei,
            },
            "deploy_block": deployment.block,
            "chains": [chain_entry(c, settings) for c, settings in zip(chains, self.config.chain_list, strict=True)],
            "sequencers": [
                {"name": name, "address": op.address, "private_key": op.private_key}
                for op, name in zip(operators, self.sequencer_names, strict=True)
            ],
            "accounts": [
                {"address": a.address, "private_key": a.private_key} for a in dev_accounts(self.config.l2.dev_accounts)
            ],
        }


def _derive_operator(index: int) -> DevAccount:
    return _derive("test test test test test test test test test test test junk", SEQUENCER_KEY_INDEX + index)


def _derive_reporter() -> DevAccount:
    """The L1 key the verifier's watchtower reports slashing evidence with (funded at start)."""
    return _derive("test test test test test test test test test test test junk", REPORTER_KEY_INDEX)


def _genesis_hash(chain: L2ChainConfig) -> bytes:
    from toolkit.l2.executor import L2Executor

    return L2Executor(chain).genesis_hash


__all__ = ["Devnet", "DevnetError", "ProcessFailed", "rpc_call", "http_json"]
