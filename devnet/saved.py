"""A saved devnet: `devnet save DIR` writes it, `devnet up --load DIR` starts it again.

A saved devnet is its L1, history included, plus what the nodes need to derive every L2 chain from
that L1 again (they do not copy each other's databases: an L2 is whatever its L1 says, by design):

    DIR/devnet.json    format, settings (devnet.toml's shape, without ports, host and state dir),
                       the contracts, each chain's genesis timestamp and hash, and each chain's safe
                       head at the save (re-derived and checked by hash on load)
    DIR/l1-state.json  Anvil's dump with every block, transaction, receipt and the state at each
                       block (`anvil_dumpState true`), which derivation reads (who led at a batch's
                       L1 block)

`save_devnet` first waits until every L2 block built before the call is in a batch on L1, so the
save holds every block and every transaction a client saw; blocks built after that wait are not in it.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnet.config import ConfigError, DevnetConfig, load_config
from devnet.rpc import rpc_call

if TYPE_CHECKING:
    from devnet.deploy import Deployment

FORMAT = "rollup-devnet-save/1"
STATE_FILE = "devnet.json"
L1_FILE = "l1-state.json"
SAFE_WAIT_SECONDS = 60.0
# devnet.toml keys that say where a devnet runs, not what it is: a loaded devnet takes them from
# its own config and flags; everything else comes from the save.
WHERE_KEYS = {"l1": ("host", "port", "rpc_url", "key"), "nodes": ("gateway_port", "verifier_port", "sequencer_port")}


class SaveError(RuntimeError):
    """A devnet cannot be saved, or a saved devnet cannot be read: the message says why."""


def settings_of(config: DevnetConfig) -> dict[str, Any]:
    """What a devnet is, in devnet.toml's shape (load_config reads it back): no ports, no state dir."""
    settings: dict[str, Any] = {"devnet": {"mode": config.mode}}
    for section in ("l1", "l2", "nodes", "sequencers", "batcher", "auction"):
        values = asdict(getattr(config, section))
        for key in WHERE_KEYS.get(section, ()):
            values.pop(key, None)
        settings[section] = values
    settings["chains"] = [
        {key: value for key, value in (("chain_id", chain.chain_id), ("block_time", chain.block_time),
                                       ("gas_limit", chain.gas_limit), ("alloc", dict(chain.alloc)))
         if value is not None}
        for chain in config.chain_list
    ]
    return settings


@dataclass(frozen=True)
class SavedHead:
    number: int
    hash: str


@dataclass(frozen=True)
class SavedDevnet:
    directory: Path
    settings: dict[str, Any]
    deployment: Deployment
    genesis_timestamps: dict[int, int]  # chain id -> its genesis block's timestamp (the genesis hash follows)
    genesis_hashes: dict[int, str]
    heads: dict[int, SavedHead]  # chain id -> its safe head at the save
    l1_block: int  # the L1 head the dump holds

    @property
    def l1_state_path(self) -> Path:
        return self.directory / L1_FILE

    def config(self, where: DevnetConfig) -> DevnetConfig:
        """The saved devnet's settings, running where `where` says (state dir, host, ports)."""
        saved = load_config(None, _flatten(self.settings))
        where_l1 = {key: getattr(where.l1, key) for key in ("host", "port")}
        where_nodes = {key: getattr(where.nodes, key) for key in WHERE_KEYS["nodes"]}
        return replace(saved, state_dir=where.state_dir, l1=replace(saved.l1, **where_l1),
                       nodes=replace(saved.nodes, **where_nodes)).validate()

    def write(self) -> None:
        document = {
            "format": FORMAT,
            "settings": self.settings,
            "deployment": asdict(self.deployment),
            "chains": [
                {"chain_id": chain_id, "genesis_timestamp": self.genesis_timestamps[chain_id],
                 "genesis_hash": self.genesis_hashes[chain_id],
                 "safe_head": {"number": self.heads[chain_id].number, "hash": self.heads[chain_id].hash}}
                for chain_id in self.genesis_timestamps
            ],
            "l1_block": self.l1_block,
        }
        (self.directory / STATE_FILE).write_text(json.dumps(document, indent=2) + "\n")

    @classmethod
    def read(cls, directory: Path) -> SavedDevnet:
        path = directory / STATE_FILE
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise SaveError(f"{directory} holds no saved devnet (no {STATE_FILE}; `devnet save DIR` writes one)") from exc
        except (OSError, ValueError) as exc:
            raise SaveError(f"cannot read the saved devnet {path}: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            found = document.get("format") if isinstance(document, dict) else None
            raise SaveError(f"{path} is not a saved devnet of this version (format {found!r}, expected {FORMAT!r})")
        if not (directory / L1_FILE).is_file():
            raise SaveError(f"{directory} lacks {L1_FILE}, the saved L1: the save is incomplete")
        from devnet.deploy import Deployment  # web3 and friends: loaded only when a save is read

        try:
            deployment = Deployment(**{f.name: document["deployment"][f.name] for f in fields(Deployment)})
            chains = document["chains"]
            saved = cls(
                directory=directory,
                settings=document["settings"],
                deployment=deployment,
                genesis_timestamps={int(c["chain_id"]): int(c["genesis_timestamp"]) for c in chains},
                genesis_hashes={int(c["chain_id"]): str(c["genesis_hash"]) for c in chains},
                heads={int(c["chain_id"]): SavedHead(int(c["safe_head"]["number"]), str(c["safe_head"]["hash"]))
                       for c in chains},
                l1_block=int(document["l1_block"]),
            )
            saved_chains = [c.chain_id for c in saved.config(DevnetConfig()).chain_list]
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise SaveError(f"{path} is damaged: {exc!r}") from exc
        if sorted(saved_chains) != sorted(saved.genesis_timestamps):
            raise SaveError(f"{path} is damaged: settings name chains {saved_chains}, "
                            f"genesis blocks are saved for {sorted(saved.genesis_timestamps)}")
        return saved


def _flatten(settings: dict[str, Any]) -> dict[str, Any]:
    """devnet.toml's nested shape -> load_config's dotted overrides."""
    flat: dict[str, Any] = {"chains": settings.get("chains", [])}
    for section, values in settings.items():
        if section != "chains":
            flat.update({f"{section}.{key}": value for key, value in values.items()})
    return flat


def save_devnet(state: dict[str, Any], directory: Path, wait_seconds: float = SAFE_WAIT_SECONDS) -> SavedDevnet:
    """Save the running devnet that `state` (its state file) describes into `directory`."""
    if state.get("l1", {}).get("external"):
        raise SaveError("this devnet runs on an existing L1 (--l1-rpc): only a devnet's own Anvil can be saved")
    if "settings" not in state or any("genesis_timestamp" not in c for c in state.get("chains", [])):
        raise SaveError("this devnet's state file predates `devnet save`: restart it with this version first")
    from devnet.deploy import Deployment

    l1_url = state["l1"]["rpc"]
    heads = _wait_until_safe(state, wait_seconds)
    l1_block = int(rpc_call(l1_url, "eth_blockNumber"), 16)
    dumped = rpc_call(l1_url, "anvil_dumpState", [True], timeout=60)
    l1_state = json.loads(gzip.decompress(bytes.fromhex(dumped.removeprefix("0x"))))
    _check_history(l1_state, int(state["deploy_block"]))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / L1_FILE).write_text(json.dumps(l1_state))
    contracts = state["contracts"]
    saved = SavedDevnet(
        directory=directory,
        settings=state["settings"],
        deployment=Deployment(registry=state["registry"]["address"], registry_contract=state["registry"]["contract"],
                              inbox=contracts["Inbox"], block=int(state["deploy_block"])),
        genesis_timestamps={c["chain_id"]: int(c["genesis_timestamp"]) for c in state["chains"]},
        genesis_hashes={c["chain_id"]: c["genesis_hash"] for c in state["chains"]},
        heads=heads,
        l1_block=l1_block,
    )
    saved.write()
    return saved


def _wait_until_safe(state: dict[str, Any], wait_seconds: float) -> dict[int, SavedHead]:
    """Every chain's latest block at the call is in a batch on L1: each verifier's safe head passed it."""
    targets = {}
    for chain in state["chains"]:
        try:
            targets[chain["chain_id"]] = int(rpc_call(chain["rpc"], "eth_blockNumber"), 16)
        except Exception as exc:
            raise SaveError(f"chain {chain['chain_id']}'s gateway {chain['rpc']} does not answer ({exc}): "
                            "is the devnet up?") from exc
    deadline = time.monotonic() + wait_seconds
    heads: dict[int, SavedHead] = {}
    while True:
        for chain in state["chains"]:
            verifier = next(n for n in chain["nodes"] if n["role"] == "verifier")
            try:
                safe = rpc_call(verifier["rpc"], "eth_getBlockByNumber", ["safe", False])
            except Exception:
                continue  # a verifier restarting: ask again until the deadline
            if int(safe["number"], 16) >= targets[chain["chain_id"]]:
                heads[chain["chain_id"]] = SavedHead(int(safe["number"], 16), safe["hash"])
        if len(heads) == len(targets):
            return heads
        if time.monotonic() > deadline:
            behind = {c: targets[c] for c in targets if c not in heads}
            raise SaveError(f"L2 blocks {behind} (chain: block) were not in a batch on L1 within {wait_seconds:g}s: "
                            "is the batcher paused or the L1 down? Nothing was saved")
        heads.clear()
        time.sleep(0.2)


def _check_history(l1_state: dict[str, Any], deploy_block: int) -> None:
    """Derivation reads L1 state at old blocks (who led at a batch's block): every one must be in the dump."""
    best = int(str(l1_state["best_block_number"]), 0)  # a number, or hex text
    needed = best - deploy_block + 1
    kept = len(l1_state.get("historical_states") or [])
    if kept < needed:
        raise SaveError(f"Anvil kept the state of only its last {kept} blocks, and re-deriving this devnet needs "
                        f"the {needed} since the contracts were deployed (L1 blocks {deploy_block}..{best}); "
                        "save a devnet younger than that. Nothing was saved")
