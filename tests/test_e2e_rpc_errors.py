"""Bad input gets the standard JSON-RPC error and changes nothing; batches, filters, WebSocket."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import websockets
from eth_account import Account
from web3 import Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.testing import wait_for

ACCOUNTS = dev_accounts(10)
SENDER = ACCOUNTS[5]


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def call(url: str, method: str, *params: Any) -> dict[str, Any]:
    return post(
        url, json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}).encode()
    )[1]


def signed(
    nonce: int, *, chain_id: int = 901, value: int = 1, gas: int = 21_000, key: str = SENDER.private_key
) -> str:
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": ACCOUNTS[6].address,
        "value": value,
        "gas": gas,
        "maxFeePerGas": 10**11,
        "maxPriorityFeePerGas": 10**9,
    }
    return "0x" + bytes(Account.sign_transaction(tx, key).raw_transaction).hex()


@pytest.fixture(scope="module")
def url(devnet: Devnet) -> str:
    return devnet.node_url("sequencer-0")


def test_protocol_errors(url: str) -> None:
    status, reply = post(url, b"{not json")
    assert reply["error"]["code"] == -32700 and reply["id"] is None
    assert call(url, "eth_noSuchMethod")["error"]["code"] == -32601
    assert call(url, "eth_getBalance", "0x1234")["error"]["code"] == -32602
    assert call(url, "eth_getBalance")["error"]["code"] == -32602
    assert call(url, "eth_getBlockByNumber", "lattest", False)["error"]["code"] == -32602
    assert post(url, b'{"jsonrpc":"2.0","id":1,"method":5}')[1]["error"]["code"] == -32600
    assert post(url, b"[]")[1]["error"]["code"] == -32600
    status, _ = post(
        url,
        json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": ["x" * (6 * 1024 * 1024)]}
        ).encode(),
    )
    assert status == 413
    assert call(url, "eth_chainId")["result"] == hex(901)  # still serving


def test_batch_requests(url: str) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_nope"},
        {"jsonrpc": "2.0", "method": "eth_blockNumber"},  # a notification gets no reply
        {"jsonrpc": "2.0", "id": 3, "method": "net_version"},
    ]
    status, replies = post(url, json.dumps(batch).encode())
    by_id = {reply["id"]: reply for reply in replies}
    assert set(by_id) == {1, 2, 3}
    assert (
        by_id[1]["result"] == hex(901) and by_id[2]["error"]["code"] == -32601 and by_id[3]["result"] == "901"
    )


def test_rejected_transactions_change_nothing(url: str, sequencer_w3: Web3) -> None:
    nonce = sequencer_w3.eth.get_transaction_count(SENDER.address)
    balance = sequencer_w3.eth.get_balance(SENDER.address)
    cases = {
        "invalid chain id": signed(nonce, chain_id=5),
        "intrinsic gas too low": signed(nonce, gas=20_000),
        "insufficient funds": signed(nonce, value=10**30),
        "exceeds block gas limit": signed(nonce, gas=31_000_000),
        "could not be decoded": "0x02f8deadbeef",
    }
    for expected, raw in cases.items():
        reply = call(url, "eth_sendRawTransaction", raw)
        assert reply["error"]["code"] == -32000 and expected in reply["error"]["message"], (expected, reply)
    tampered = bytearray(bytes.fromhex(signed(nonce)[2:]))
    tampered[-5] ^= 0xFF  # corrupt the signature
    reply = call(url, "eth_sendRawTransaction", "0x" + tampered.hex())
    assert "error" in reply and reply["error"]["code"] == -32000
    assert sequencer_w3.eth.get_transaction_count(SENDER.address, "pending") == nonce
    assert sequencer_w3.eth.get_balance(SENDER.address) == balance


def test_nonce_gap_is_held_until_filled_and_low_nonce_refused(url: str, sequencer_w3: Web3) -> None:
    key = ACCOUNTS[7].private_key
    nonce = sequencer_w3.eth.get_transaction_count(ACCOUNTS[7].address)
    later = call(url, "eth_sendRawTransaction", signed(nonce + 1, key=key))["result"]
    with pytest.raises(AssertionError):
        wait_for(lambda: sequencer_w3.eth.get_transaction(later)["blockNumber"], timeout=2.5, what="gap")
    first = call(url, "eth_sendRawTransaction", signed(nonce, key=key))["result"]
    for tx_hash in (first, later):
        assert (
            sequencer_w3.eth.wait_for_transaction_receipt(tx_hash, timeout=20, poll_latency=0.1)["status"]
            == 1
        )
    reply = call(url, "eth_sendRawTransaction", signed(nonce, key=key, value=3))
    assert "nonce too low" in reply["error"]["message"]


def test_polling_filters(url: str, sequencer_w3: Web3) -> None:
    block_filter = call(url, "eth_newBlockFilter")["result"]
    log_filter = call(url, "eth_newFilter", {"fromBlock": "latest"})["result"]
    head = sequencer_w3.eth.block_number
    wait_for(lambda: sequencer_w3.eth.block_number >= head + 2, what="two new blocks")
    hashes = call(url, "eth_getFilterChanges", block_filter)["result"]
    assert len(hashes) >= 2 and all(len(h) == 66 for h in hashes)
    assert call(url, "eth_getFilterChanges", log_filter)["result"] == []
    assert call(url, "eth_uninstallFilter", block_filter)["result"] is True
    assert call(url, "eth_getFilterChanges", block_filter)["error"]["message"] == "filter not found"


def test_websocket_new_heads_and_logs(devnet: Devnet, sequencer_w3: Web3) -> None:
    ws_url = devnet.node_url("sequencer-0").replace("http://", "ws://")

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with websockets.connect(ws_url) as socket:
            await socket.send(
                json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]})
            )
            heads_id = json.loads(await socket.recv())["result"]
            await socket.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 2,
                        "method": "eth_subscribe",
                        "params": ["logs", {"address": ACCOUNTS[8].address}],
                    }
                )
            )
            logs_id = json.loads(await socket.recv())["result"]
            heads: list[Any] = []
            async with asyncio.timeout(15):
                while len(heads) < 2:
                    message = json.loads(await socket.recv())
                    if message["params"]["subscription"] == heads_id:
                        heads.append(message["params"]["result"])
            await socket.send(
                json.dumps({"jsonrpc": "2.0", "id": 3, "method": "eth_unsubscribe", "params": [heads_id]})
            )
            await socket.send(json.dumps({"jsonrpc": "2.0", "id": 4, "method": "eth_chainId"}))
            replies = []
            async with asyncio.timeout(10):
                while len(replies) < 2:
                    message = json.loads(await socket.recv())
                    if "id" in message:
                        replies.append(message)
            assert logs_id != heads_id
            return heads, replies

    heads, replies = asyncio.run(scenario())
    assert int(heads[1]["number"], 16) == int(heads[0]["number"], 16) + 1
    assert heads[1]["parentHash"] == heads[0]["hash"]
    assert sequencer_w3.eth.get_block(int(heads[0]["number"], 16))["hash"].to_0x_hex() == heads[0]["hash"]
    assert {r["id"]: r.get("result") for r in replies} == {3: True, 4: hex(901)}


def test_subscriptions_need_a_websocket(url: str) -> None:
    assert call(url, "eth_subscribe", "newHeads")["error"]["code"] == -32601
