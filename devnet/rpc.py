"""Blocking JSON-RPC and JSON-over-HTTP calls for readiness probes and the CLI (standard library only,
so a CLI command that only asks a node something starts fast)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


class RpcReplyError(RuntimeError):
    """The node answered with a JSON-RPC error."""

    def __init__(self, method: str, message: str) -> None:
        super().__init__(f"{method}: {message}")
        self.method, self.message = method, message


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 5.0) -> Any:
    """A blocking JSON-RPC call; raises RpcReplyError on an error reply (OSError when unreachable)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise RpcReplyError(method, str(reply["error"].get("message")))
    return reply["result"]


def http_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())
