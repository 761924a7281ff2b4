"""Clients as they are, through the gateway: web3.py's AsyncWeb3 over WebSocket (binary frames),
browser CORS preflights, and errors that come back exactly as the node gave them."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import pytest
import websockets
from web3 import AsyncWeb3, WebSocketProvider

from devnet.network import Devnet

DEADLINE = 90.0


def http(url: str, body: bytes | None = None, method: str = "POST",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json", **(headers or {})},
                                     method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_async_web3_websocket_provider_subscribes_through_the_gateway(devnet: Devnet) -> None:
    async def run() -> tuple[int, dict[str, Any]]:
        url = devnet.gateway_url.replace("http://", "ws://")
        async with AsyncWeb3(WebSocketProvider(url)) as w3:
            chain_id = await w3.eth.chain_id
            await w3.eth.subscribe("newHeads")
            async for message in w3.socket.process_subscriptions():
                return chain_id, message["result"]
        raise AssertionError("the subscription ended")

    chain_id, head = asyncio.run(asyncio.wait_for(run(), DEADLINE))
    assert chain_id == 901 and head["number"] >= 1 and len(head["hash"]) == 32


def test_cors_preflight_and_header_on_gateway_and_node(devnet: Devnet) -> None:
    for url in (devnet.gateway_url, devnet.node_url("sequencer-0")):
        status, headers, _ = http(url, method="OPTIONS", headers={
            "Origin": "http://dapp.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert status == 200
        assert headers["access-control-allow-origin"] == "*"
        assert "POST" in headers["access-control-allow-methods"]
        assert headers["access-control-allow-headers"] == "content-type"
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        status, headers, reply = http(url, body, headers={"Origin": "http://dapp.example"})
        assert headers["access-control-allow-origin"] == "*" and json.loads(reply)["result"] == hex(901)


@pytest.mark.parametrize("request_body", [
    {"jsonrpc": "2.0", "id": 3, "method": "eth_noSuchMethod", "params": []},
    {"jsonrpc": "2.0", "id": 4, "method": "eth_getBalance", "params": ["0x12"]},
    {"jsonrpc": "2.0", "id": 5, "method": "eth_call",  # a custom-error revert: code 3 with its data
     "params": [{"to": "0x" + "00" * 19 + "ee", "gas": "0x5208", "data": "0x"}, "latest",
                {"0x" + "00" * 19 + "ee": {"code": "0x60aa60005260206000fd"}}]},
    {"jsonrpc": "2.0", "id": 6, "method": "eth_sendRawTransaction", "params": ["0x02c0"]},
])
def test_errors_pass_through_the_gateway_unchanged(devnet: Devnet, request_body: dict[str, Any]) -> None:
    body = json.dumps(request_body).encode()
    _, _, from_node = http(devnet.node_url("sequencer-0"), body)
    _, _, from_gateway = http(devnet.gateway_url, body)
    assert "error" in json.loads(from_node)
    assert json.loads(from_gateway) == json.loads(from_node)

    async def over_websocket() -> Any:
        async with websockets.connect(devnet.gateway_url.replace("http://", "ws://")) as socket:
            await socket.send(body)  # a binary frame
            return json.loads(await asyncio.wait_for(socket.recv(), DEADLINE))

    assert asyncio.run(over_websocket()) == json.loads(from_node)
