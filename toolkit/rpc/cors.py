"""CORS as Anvil answers it: any origin may call the JSON-RPC endpoint from a browser.

`cors_middleware` answers preflights (OPTIONS) itself and adds `Access-Control-Allow-Origin: *` to
every other reply; both the node RPC and the gateway use it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

ALLOW_METHODS = "GET,POST"


def preflight(request: web.Request) -> web.Response:
    asked = request.headers.get("Access-Control-Request-Headers", "content-type")
    return web.Response(status=200, headers={
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": asked,
        "Access-Control-Max-Age": "86400",
        "Vary": "origin, access-control-request-method, access-control-request-headers",
    })


@web.middleware
async def cors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return preflight(request)
    response = await handler(request)
    if not response.prepared:  # a WebSocket reply is already on the wire
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response
