"""The gateway routes by the parsed JSON-RPC method, not by a substring of the body."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.gateway import Gateway, GatewayConfig, GatewayRequestError, parse_rpc_body
from toolkit.testing import fast_config, raw_receipt, wait_for

ACCOUNTS = dev_accounts(3)
ZERO_ADDRESS = "0x" + "00" * 20
FAKE_TX_HASH = "0x" + "ab" * 32
# An eth_call whose calldata is the ASCII of the write method, and a params string naming it.
CALL_DATA = "0x" + b"eth_sendRawTransaction".hex()
SNEAKY_READ = {
    "jsonrpc": "2.0", "id": 7, "method": "eth_call",
    "params": [{"to": ZERO_ADDRESS, "data": CALL_DATA, "input": "eth_sendRawTransaction"}, "latest"],
}


def write_request(request_id: Any, raw: str = "0x02") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "eth_sendRawTransaction", "params": [raw]}


# ----- the parser -----


def test_a_single_write_is_a_write() -> None:
    parsed = parse_rpc_body(json.dumps(write_request(1)).encode())
    assert parsed.writes and not parsed.batch and parsed.request_id == 1


def test_a_method_name_inside_params_or_id_is_not_a_write() -> None:
    body = json.dumps(SNEAKY_READ).encode()
    assert b"eth_sendRawTransaction" in body
    assert not parse_rpc_body(body).writes
    by_id = {"jsonrpc": "2.0", "id": "eth_sendRawTransaction", "method": "eth_blockNumber", "params": []}
    assert not parse_rpc_body(json.dumps(by_id).encode()).writes


def test_a_batch_is_a_write_if_any_request_is_one() -> None:
    reads = [SNEAKY_READ, {"jsonrpc": "2.0", "id": 8, "method": "eth_blockNumber"}]
    assert not parse_rpc_body(json.dumps(reads).encode()).writes
    mixed = parse_rpc_body(json.dumps([*reads, write_request(9), "not a request", 5]).encode())
    assert mixed.writes and mixed.batch and len(mixed.requests) == 5 and mixed.request_id is None


@pytest.mark.parametrize("body", [b"{", b"", b"not json", b"\xff\xfe\x00", b'{"id": 1, "method": "eth_call"'])
def test_malformed_json_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(GatewayRequestError) as caught:
        parse_rpc_body(body)
    assert caught.value.reply() == {
        "jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error: body is not valid JSON"},
    }


@pytest.mark.parametrize("body", [b"42", b'"eth_sendRawTransaction"', b"null", b"true", b"[]"])
def test_json_that_is_not_a_request_or_batch_is_an_invalid_request(body: bytes) -> None:
    with pytest.raises(GatewayRequestError) as caught:
        parse_rpc_body(body)
    reply = caught.value.reply()
    assert reply["id"] is None and reply["error"]["code"] == -32600


@pytest.mark.parametrize("body", [b"[" * 100_000, b"[" * 129 + b"]" * 129, b'{"a":' * 200 + b"1" + b"}" * 200])
def test_deep_nesting_is_refused_before_json_parses_it(body: bytes) -> None:
    # py-evm raises the recursion limit, so json.loads of ~100k "[" would crash the process.
    with pytest.raises(GatewayRequestError) as caught:
        parse_rpc_body(body)
    assert caught.value.reply()["error"] == {"code": -32600, "message": "invalid request: JSON nested deeper than 128 levels"}


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    request = {"jsonrpc": "2.0", "id": "[" * 500 + '\\"{', "method": "eth_call", "params": [{"data": "{" * 500}]}
    assert parse_rpc_body(json.dumps(request).encode()).requests == [request]


def make_gateway(nodes: dict[str, str]) -> Gateway:
    config = GatewayConfig(
        chain_id=901, host="127.0.0.1", port=0, l1_rpc_url="http://127.0.0.1:1", inbox_address=ZERO_ADDRESS,
        registry_address=ZERO_ADDRESS, mode="single", nodes=nodes,
    )
    return Gateway(config)


def test_remember_writes_keeps_every_accepted_write_of_a_batch() -> None:
    gateway = make_gateway({})
    requests = [SNEAKY_READ, write_request(1, "0x01"), write_request("b", "0x02"), write_request(3, "0x03")]
    replies = [
        {"jsonrpc": "2.0", "id": 7, "result": "0x"},
        {"jsonrpc": "2.0", "id": "b", "result": "0x" + "bb" * 32},
        {"jsonrpc": "2.0", "id": 1, "result": "0x" + "aa" * 32},
        {"jsonrpc": "2.0", "id": 3, "error": {"code": -32000, "message": "nonce too low"}},
        {"jsonrpc": "2.0", "id": [4], "result": "0x" + "cc" * 32},  # an unusable id is skipped, no crash
    ]
    requests.append(write_request([4], "0x04"))
    gateway.remember_writes(requests, json.dumps(replies).encode())
    assert {h: raw for h, (raw, _, _) in gateway.unconfirmed.items()} == {
        "0x" + "aa" * 32: "0x01", "0x" + "bb" * 32: "0x02",
    }


# ----- routing through a real gateway in front of two recording backends -----


class RecordingBackend:
    """A stand-in node: records each body it is sent and answers every request with a result."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)

        def answer(item: dict[str, Any]) -> dict[str, Any]:
            result = FAKE_TX_HASH if item.get("method") == "eth_sendRawTransaction" else "0x1"
            return {"jsonrpc": "2.0", "id": item.get("id"), "result": result}

        return web.json_response([answer(i) for i in body] if isinstance(body, list) else answer(body))


@asynccontextmanager
async def serve(handler: Any) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def route_bodies(bodies: list[bytes]) -> tuple[list[Any], RecordingBackend, RecordingBackend, Gateway]:
    """Send each body through a gateway whose leader (writes) and read node are different backends."""
    reader, leader = RecordingBackend(), RecordingBackend()
    async with serve(reader.handle) as reader_url, serve(leader.handle) as leader_url:
        # The leader is not among the read nodes, so reads and writes take different paths.
        gateway = make_gateway({"reader": reader_url})
        gateway.healthy[reader_url] = True
        gateway.leader_url = leader_url
        async with aiohttp.ClientSession() as session:
            gateway.session = session
            async with serve(gateway.handle_http) as gateway_url:
                replies = []
                for body in bodies:
                    async with session.post(gateway_url, data=body) as response:
                        assert response.status == 200
                        replies.append(await response.json(content_type=None))
    return replies, reader, leader, gateway


def test_gateway_sends_writes_to_the_leader_and_reads_elsewhere() -> None:
    bodies = [
        json.dumps(SNEAKY_READ).encode(),
        json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}, write_request(2)]).encode(),
        json.dumps(write_request(3)).encode(),
    ]
    replies, reader, leader, gateway = asyncio.run(route_bodies(bodies))
    assert reader.bodies == [SNEAKY_READ]
    assert leader.bodies == [json.loads(bodies[1]), json.loads(bodies[2])]
    assert replies[1][1]["result"] == FAKE_TX_HASH and gateway.forwarded_writes == 2
    assert list(gateway.unconfirmed) == [FAKE_TX_HASH]


def test_gateway_answers_bad_bodies_itself_without_contacting_a_node() -> None:
    replies, reader, leader, _ = asyncio.run(route_bodies([b'{"jsonrpc": "2.0", "method": ', b"[]", b"17"]))
    assert [r["error"]["code"] for r in replies] == [-32700, -32600, -32600]
    assert all(r["id"] is None for r in replies)
    assert reader.bodies == [] and leader.bodies == []


# ----- end to end against a real devnet -----


@pytest.fixture(scope="module")
def single_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    network = Devnet(fast_config(Path(tmp_path_factory.mktemp("gateway-routing")), mode="single", sequencers=1))
    network.up()
    try:
        yield network
    finally:
        network.down()


def post(url: str, body: bytes) -> Any:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_batch_with_a_read_and_a_write_lands_the_transaction(single_devnet: Devnet) -> None:
    gateway = single_devnet.gateway_url
    w3 = Web3(HTTPProvider(gateway))
    sender, receiver = ACCOUNTS[1], ACCOUNTS[2]
    tx = {"type": 2, "chainId": 901, "nonce": w3.eth.get_transaction_count(sender.address), "to": receiver.address,
          "value": 12_345, "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
    raw = "0x" + bytes(Account.sign_transaction(tx, sender.private_key).raw_transaction).hex()
    balance_before = w3.eth.get_balance(receiver.address)
    batch = [{"jsonrpc": "2.0", "id": "read", "method": "eth_blockNumber", "params": []}, write_request("write", raw)]
    replies = {reply["id"]: reply for reply in post(gateway, json.dumps(batch).encode())}
    assert int(replies["read"]["result"], 16) >= 0
    tx_hash = replies["write"]["result"]
    receipt = wait_for(lambda: raw_receipt(w3, tx_hash), timeout=30, what="the batched transaction to land")
    assert int(receipt["status"], 16) == 1
    assert w3.eth.get_balance(receiver.address) == balance_before + 12_345


def test_malformed_json_gets_a_parse_error_from_the_gateway(single_devnet: Devnet) -> None:
    reply = post(single_devnet.gateway_url, b'[{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction"')
    assert reply["id"] is None and reply["error"]["code"] == -32700
    reply = post(single_devnet.gateway_url, b'"eth_sendRawTransaction"')
    assert reply["id"] is None and reply["error"]["code"] == -32600
    # Nesting that would crash json's C decoder is refused, and the gateway keeps serving.
    reply = post(single_devnet.gateway_url, b"[" * 200_000)
    assert reply["id"] is None and reply["error"]["code"] == -32600
    # A read whose id names the write method is still a read, answered by a node.
    reply = post(single_devnet.gateway_url, json.dumps(
        {"jsonrpc": "2.0", "id": "eth_sendRawTransaction", "method": "eth_chainId", "params": []}).encode())
    assert reply == {"jsonrpc": "2.0", "id": "eth_sendRawTransaction", "result": hex(901)}
