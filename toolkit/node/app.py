"""A node's HTTP server: JSON-RPC (HTTP + WebSocket) on /, gossip on /p2p, liveness on /health."""

from __future__ import annotations

import logging

from aiohttp import web

from toolkit.bounded_json import loads_bounded
from toolkit.node.config import ADMIN_PATH
from toolkit.node.gossip import GossipRejected
from toolkit.node.node import L2Node
from toolkit.node.partition import refuse_peers_while_cut
from toolkit.rpc.cors import cors_middleware
from toolkit.rpc.debug_api import DebugApi
from toolkit.rpc.dev_signer import DevSigner
from toolkit.rpc.eth_api import EthApi
from toolkit.rpc.http_errors import json_errors
from toolkit.rpc.inspect_api import InspectApi
from toolkit.rpc.rollup_api import RollupApi
from toolkit.rpc.server import MAX_BODY_BYTES, JsonRpcServer
from toolkit.rpc.simulate_api import SimulateApi
from toolkit.rpc.subscriptions import subscription_factory
from toolkit.sequencer.attestation import (
    ATTEST_SHARED_PATH,
    AttestationRefused,
    check_batch_matches_chain,
    check_shared_request,
    sign_digest,
)
from toolkit.sequencer.handoff import HANDOFF_PATH, HandoffOrigins, make_handoff_handler
from toolkit.shared_batch import segments_hash, shared_batch_digest
from toolkit.signing import batch_digest

log = logging.getLogger(__name__)


def build_app(node: L2Node, siblings: dict[int, L2Node] | None = None) -> web.Application:
    """`siblings`: every chain node of this process by chain id (shared-batch attestations check them all)."""
    siblings = siblings or {node.chain_id: node}
    eth = EthApi(node)
    node.on_pending_transaction.append(eth.filters.note_pending)
    rollup = RollupApi(node, node.mode.name, eth._header_or_none)
    methods = {**eth.methods(), **DevSigner(eth).methods(), **InspectApi(eth).methods(), **DebugApi(eth).methods(),
               **SimulateApi(eth).methods(), **rollup.methods()}
    rpc = JsonRpcServer(methods, subscription_factory(node.events, eth.logs_of_block))
    # CORS outermost, so error replies carry the header too
    app = web.Application(client_max_size=MAX_BODY_BYTES,
                          middlewares=[cors_middleware, json_errors, refuse_peers_while_cut])
    rpc.add_routes(app)
    if node.config.test_controls:  # never on "/", so never reachable through the gateway
        JsonRpcServer(rollup.admin_methods()).add_routes(app, ADMIN_PATH)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "ready": node.follower.is_ready, "name": node.config.name})

    async def receive_block(request: web.Request) -> web.Response:
        try:
            message = loads_bounded(await request.read())
            outcome = await node.receiver.receive(message)
        except (GossipRejected, ValueError) as exc:
            return web.json_response({"accepted": False, "reason": str(exc)}, status=400)
        return web.json_response({"accepted": True, "outcome": outcome})

    async def serve_block(request: web.Request) -> web.Response:
        if node.publisher is None:
            raise web.HTTPNotFound(text="this node does not sequence")
        try:
            number = int(request.match_info["number"])
        except ValueError as exc:
            raise web.HTTPBadRequest(text="block number expected") from exc
        block = node.publisher.signed_blocks.get(number)
        if block is None:
            raise web.HTTPNotFound(text=f"no signed block {number}")
        return web.json_response(block.to_json())

    async def attest(request: web.Request) -> web.Response:
        if node.config.private_key is None:
            return web.json_response({"reason": "this node holds no key"}, status=400)
        try:
            body = loads_bounded(await request.read())
            chain_id, first, last = int(body["chainId"]), int(body["first"]), int(body["last"])
            forced_end, data = int(body["forcedEnd"]), bytes.fromhex(body["data"][2:])
            if chain_id != node.chain_id:
                raise AttestationRefused(f"this node follows chain {node.chain_id}")
            check_batch_matches_chain(node.executor, chain_id, first, last, forced_end, data)
        except (AttestationRefused, KeyError, ValueError, TypeError) as exc:
            return web.json_response({"reason": str(exc)}, status=400)
        signer, signature = sign_digest(node.config.private_key, batch_digest(node.domain, chain_id, first, last, forced_end, data))
        return web.json_response({"signer": signer, "signature": "0x" + signature.hex()})

    async def attest_shared(request: web.Request) -> web.Response:
        if node.config.private_key is None:
            return web.json_response({"reason": "this node holds no key"}, status=400)
        try:
            segments = check_shared_request({c: n.executor for c, n in siblings.items()}, await request.json())
        except (AttestationRefused, KeyError, ValueError, TypeError) as exc:
            return web.json_response({"reason": str(exc)}, status=400)
        digest = shared_batch_digest(node.domain, segments_hash(segments))
        signer, signature = sign_digest(node.config.private_key, digest)
        return web.json_response({"signer": signer, "signature": "0x" + signature.hex()})

    app.router.add_get("/health", health)
    app.router.add_post(ATTEST_SHARED_PATH, attest_shared)
    app.router.add_post("/p2p/attest", attest)
    app.router.add_post("/p2p/block", receive_block)
    take_handoff = make_handoff_handler(node.pool, node.handoff.origins if node.handoff is not None else HandoffOrigins())

    async def receive_handoff(request: web.Request) -> web.Response:
        # A node still catching up would judge transactions against old state and refuse good ones
        # (the sender would drop them): it asks the sender to come back instead.
        if not node.ready.is_set():
            return web.json_response({"error": "catching up with L1; retry later"}, status=503)
        # Held for a devnet snapshot or revert: a peer not yet reverted would hand over transactions
        # that the revert undoes; it keeps them and retries (and its own revert empties its pool).
        if node.role is not None and node.role.held:
            return web.json_response({"error": "held for a devnet snapshot or revert; retry later"}, status=503)
        return await take_handoff(request)

    app.router.add_post(HANDOFF_PATH, receive_handoff)
    app.router.add_get("/p2p/block/{number}", serve_block)
    return app
