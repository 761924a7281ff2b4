"""Every HTTP answer of a node or gateway is JSON, errors included: an aiohttp middleware that turns
aiohttp's text errors (413 body too large, 404, 405, ...) and any unhandled exception into a
JSON-RPC error object, so a client never gets a bare `500 Internal Server Error` or loses a reply."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from toolkit.rpc.errors import INTERNAL_ERROR, INVALID_REQUEST, LIMIT_EXCEEDED, METHOD_NOT_FOUND

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(code: int, message: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}


def _code_for(status: int) -> int:
    if status == 413:
        return LIMIT_EXCEEDED
    if status in (404, 405):
        return METHOD_NOT_FOUND
    return INVALID_REQUEST if status < 500 else INTERNAL_ERROR


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 413:
            message = f"request body too large: {message}"
        return web.json_response(error_body(_code_for(exc.status), message), status=exc.status)
    except Exception as exc:  # a bug of ours: answer it, keep serving
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return web.json_response(error_body(INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}"),
                                 status=500)
