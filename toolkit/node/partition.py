"""A node cut off from its peers (test control `devnet_setPartitioned`, scenario `partition(name)`).

While cut, the node's peer-to-peer traffic stops both ways, as a network partition would stop it:
inbound `/p2p/*` requests are answered 503, and every outbound peer request (gossip, gossip sync,
attestation requests, mempool handoff) fails as an unreachable peer does, through the same error
paths. L1 and client JSON-RPC are untouched: the node still derives the safe chain from L1 and
still answers (and forwards) clients. One node process is one node, so the switch is per process.
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web

from toolkit.rpc.http_errors import Handler

log = logging.getLogger(__name__)

P2P_PREFIX = "/p2p/"


class PeerLinks:
    def __init__(self) -> None:
        self.cut = False

    def set_cut(self, cut: bool) -> bool:
        if cut != self.cut:
            log.warning("peer links %s (test control)", "cut: partitioned from every peer" if cut else "restored")
        self.cut = cut
        return cut

    def check(self, peer: str) -> None:
        """Raise as an unreachable peer would, while cut."""
        if self.cut:
            raise aiohttp.ClientConnectionError(f"{peer}: partitioned from peers (test control)")


peer_links = PeerLinks()


@web.middleware
async def refuse_peers_while_cut(request: web.Request, handler: Handler) -> web.StreamResponse:
    if peer_links.cut and request.path.startswith(P2P_PREFIX):
        return web.json_response({"accepted": False, "error": "partitioned from peers (test control)"}, status=503)
    return await handler(request)
