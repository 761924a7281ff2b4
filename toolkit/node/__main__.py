"""`python -m toolkit.node --config node.json`: run one node process until SIGTERM/SIGINT.

A process serves one or more L2 chains, each on a port of its own (RPC, WebSocket, gossip,
attestations, mempool handoff). The config file is either one chain's NodeConfig or
{"name": ..., "chains": [NodeConfig, ...]}. The chains share the process's key and one L1 client,
so the L1 transactions they send (batches, epoch syncs, reports) never race for a nonce.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from toolkit.l1.client import L1Client
from toolkit.modes import mode_named
from toolkit.node.app import build_app
from toolkit.node.bundle_audit import BundleAuditor
from toolkit.node.config import NodeConfig, NodeConfigError
from toolkit.node.node import L2Node
from toolkit.sequencer.bundles import BundleBook, BundleRunner
from toolkit.sequencer.shared_batcher import SharedBatcher

log = logging.getLogger("toolkit.node")


def load_process_config(path: Path) -> list[NodeConfig]:
    """The chains this process serves (one NodeConfig each); raises NodeConfigError."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise NodeConfigError(f"cannot read node config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise NodeConfigError(f"node config {path} must be a JSON object")
    if "chains" not in data:
        return [NodeConfig.from_json(data)]
    chains = data["chains"]
    if not isinstance(chains, list) or not chains or not all(isinstance(c, dict) for c in chains):
        raise NodeConfigError(f"node config {path}: chains must be a non-empty list of node configs")
    configs = [NodeConfig.from_json(c) for c in chains]
    ids = [c.chain.chain_id for c in configs]
    if len(set(ids)) != len(ids):
        raise NodeConfigError(f"node config {path}: a chain appears twice: {ids}")
    shared = {(c.name, c.role, c.private_key, c.l1_rpc_url, c.inbox_address, c.registry_address, c.mode)
              for c in configs}
    if len(shared) != 1:
        raise NodeConfigError(f"node config {path}: the chains of one process must share name, role, key, L1 and mode")
    return configs


async def serve(configs: list[NodeConfig]) -> None:
    first = configs[0]
    l1 = L1Client(first.l1_rpc_url, first.inbox_address, first.registry_address,
                  mode_named(first.mode).registry_contract)
    nodes = [L2Node(config, l1) for config in configs]
    shared = shared_batcher(nodes, l1)
    bundles = bundle_runner(nodes)
    audit = bundle_auditor(nodes, l1)
    if shared is not None and bundles is not None:
        shared.bundles = bundles.book
    runners: list[web.AppRunner] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        for node, config in zip(nodes, configs, strict=True):
            runner = web.AppRunner(build_app(node, {n.chain_id: n for n in nodes}), access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, config.host, config.port).start()
            log.info("node %s (%s, chain %d) listening on http://%s:%d", config.name, config.role,
                     config.chain.chain_id, config.host, config.port)
        for node in nodes:
            await node.start()
        if shared is not None:
            shared.start([node.ready for node in nodes])
        if bundles is not None:
            bundles.start()
        if audit is not None:
            audit.start()
        await stop.wait()
    finally:
        if audit is not None:
            await audit.stop()
        if bundles is not None:
            await bundles.stop()
        if shared is not None:
            await shared.stop()
        for node in nodes:
            await node.stop()
        for runner in runners:
            await runner.cleanup()


def shared_batcher(nodes: list[L2Node], l1: L1Client) -> SharedBatcher | None:
    """Modes that share batches: one poster for every chain this keyed process sequences."""
    roles = [node.role for node in nodes if node.role is not None]
    if not nodes[0].mode.shares_batches or not roles:
        return None
    first = roles[0]
    peers = [url for address, url in first.config.validator_urls.items() if address.lower() != first.address.lower()]
    shared = SharedBatcher(
        {role.chain_id: role.batcher for role in roles},
        {role.chain_id: (lambda role=role: role.leadership.is_leader) for role in roles},
        l1, first.private_key, first.follower.domain, peers,
    )
    for node in nodes:
        node.shared_batcher = shared
    return shared


def bundle_runner(nodes: list[L2Node]) -> BundleRunner | None:
    """Modes that share batches: cross-chain bundles over every chain this keyed process sequences."""
    roles = {node.chain_id: node.role for node in nodes if node.role is not None}
    if not nodes[0].mode.shares_batches or not roles:
        return None
    book = BundleBook()
    runner = BundleRunner(book, roles)
    for node in nodes:
        node.bundles, node.bundle_chains, node.bundle_runner = book, sorted(roles), runner
    return runner


def bundle_auditor(nodes: list[L2Node], l1: L1Client) -> BundleAuditor | None:
    """Modes that share batches: a keyless node following the set checks every bundle marker."""
    if not nodes[0].mode.shares_batches or any(node.role is not None for node in nodes):
        return None
    auditor = BundleAuditor(l1, {node.chain_id: node.executor for node in nodes},
                            lambda: min(node.follower.derivation.l1_cursor for node in nodes),
                            nodes[0].config.l1_start_block)
    for node in nodes:
        node.bundle_audit = auditor
    return auditor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.node")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        configs = load_process_config(args.config)
    except NodeConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(configs))
    except OSError as exc:
        print(f"error: node {configs[0].name} could not start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
