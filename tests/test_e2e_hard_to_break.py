"""One transaction or one request must never halt a chain or kill a process (issue 9), against the
session's real devnet: Anvil, the Inbox, sequencer, verifier and gateway processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import websockets
from eth_account import Account
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.force_include import force_include
from toolkit.l1.artifacts import load_artifact
from toolkit.l2.transactions import MAX_INITCODE_SIZE
from toolkit.testing import wait_for

ACCOUNTS = dev_accounts(10)
USER = ACCOUNTS[9]  # only receives in the other session tests: its nonces are ours


def signed(nonce: int, **fields: Any) -> bytes:
    tx = {"type": 2, "chainId": 901, "nonce": nonce, "to": ACCOUNTS[8].address, "value": 1, "gas": 21_000,
          "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, **fields}
    return bytes(Account.sign_transaction(tx, USER.private_key).raw_transaction)


def rpc(url: str, method: str, *params: Any) -> dict[str, Any]:
    return Web3(HTTPProvider(url, request_kwargs={"timeout": 30})).provider.make_request(method, list(params))


def test_poison_init_code_through_the_pool_and_force_inclusion_never_halts_the_chain(devnet: Devnet) -> None:
    gateway, sequencer = devnet.gateway_url, devnet.node_url("sequencer-0")
    verifier = devnet.node_url("verifier-0")
    nonce = Web3(HTTPProvider(gateway)).eth.get_transaction_count(USER.address)
    poison = signed(nonce, to=None, data=b"\0" * (MAX_INITCODE_SIZE + 1), gas=15_000_000)
    for url in (gateway, sequencer, verifier):
        reply = rpc(url, "eth_sendRawTransaction", "0x" + poison.hex())
        assert reply["error"]["message"] == "max initcode size exceeded: code size 49153, limit 49152", reply
    assert rpc(sequencer, "eth_sendRawTransaction", "0x" + signed(2**64 - 1).hex())["error"]["message"] == (
        "nonce has max value: nonce 18446744073709551615"
    )

    state = devnet.state
    handle = force_include(state["l1"]["rpc"], state["contracts"]["Inbox"], 901, poison, USER.private_key)

    def skipped_on(url: str) -> dict[str, Any] | None:
        entry = next((e for e in rpc(url, "rollup_forcedQueue")["result"] if e["index"] == handle.index), None)
        return entry if entry and entry["status"] == "skipped" and entry["safe"] else None

    on_sequencer = wait_for(lambda: skipped_on(sequencer), timeout=90, what="the poison entry skipped and safe")
    on_verifier = wait_for(lambda: skipped_on(verifier), timeout=90, what="the verifier to skip it too")
    assert on_sequencer["reason"] == on_verifier["reason"] == (
        "max initcode size exceeded: code size 49153, limit 49152"
    )
    number = on_sequencer["l2Block"]
    assert on_verifier["l2Block"] == number
    assert (rpc(sequencer, "eth_getBlockByNumber", hex(number), False)["result"]["hash"]
            == rpc(verifier, "eth_getBlockByNumber", hex(number), False)["result"]["hash"])

    # the chain goes on: an ordinary transaction of the same sender lands and is derived by the verifier
    tx_hash = Web3(HTTPProvider(gateway)).eth.send_raw_transaction(signed(nonce))
    receipt = wait_for(lambda: rpc(verifier, "eth_getTransactionReceipt", tx_hash.to_0x_hex()).get("result"),
                       timeout=90, what="a later transaction derived by the verifier")
    assert int(receipt["status"], 16) == 1 and int(receipt["blockNumber"], 16) > number
    for url in (sequencer, verifier):
        assert rpc(url, "rollup_syncStatus")["result"]["stalled"] == []


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


NESTED = b"[" * 200_000 + b"]" * 200_000  # a 400 KB body that used to overflow the C stack (segfault)
HUGE = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["' + b"a" * (10 * 1024 * 1024) + b'"]}'


def test_no_body_kills_a_process_and_every_error_is_json(devnet: Devnet) -> None:
    nodes = [devnet.node_url("sequencer-0"), devnet.node_url("verifier-0")]
    ports = [devnet.gateway_url + "/", *(node + path for node in nodes
                                         for path in ("/", "/p2p/block", "/p2p/attest", "/p2p/handoff"))]
    for url in ports:
        for body in (NESTED, b"{" * 200_000, HUGE):
            status, reply = post(url, body)
            assert isinstance(reply, dict) and status in (200, 400, 404, 413, 503), (url, status, reply)
            if url.endswith("/"):  # JSON-RPC ports answer JSON-RPC errors
                assert reply["error"]["code"] in (-32600, -32700, -32005), (url, reply)
    for url in [devnet.gateway_url, *nodes]:  # everyone is alive and still serving
        assert rpc(url, "eth_chainId")["result"] == "0x385"
    # ids must be echoable JSON: NaN is not JSON, refused instead of echoed
    status, reply = post(nodes[0], b'{"jsonrpc":"2.0","id":NaN,"method":"eth_chainId","params":[]}')
    assert reply == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error: body is not valid JSON"}}
    status, reply = post(nodes[0], b'{"jsonrpc":"2.0","id":[1],"method":"eth_chainId","params":[]}')
    assert reply["id"] is None and reply["error"]["code"] == -32600
    status, reply = post(nodes[0], json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"}
                                               for i in range(1001)]).encode())
    assert reply["error"] == {"code": -32005, "message": "batch too large: 1001 requests, limit 1000"}
    status, reply = post(devnet.gateway_url, b"[" * 10_000)
    assert reply["error"]["code"] == -32600


def test_gateway_websocket_keeps_answering_after_malformed_messages(devnet: Devnet) -> None:
    async def scenario() -> list[Any]:
        async with websockets.connect(devnet.gateway_url.replace("http", "ws"), max_size=None) as socket:
            answers = []
            for message in ('{"jsonrpc":"2.0","id":1,"method":"eth_unsubscribe","params":{"a":1}}',
                            '{"jsonrpc":"2.0","id":2,"method":"eth_unsubscribe","params":[[1]]}',
                            '{"jsonrpc":"2.0","id":3,"method":"eth_unsubscribe"}',
                            "[" * 100_000, "not json", '[{"jsonrpc":"2.0","id":4,"method":"eth_chainId"}]',
                            '{"jsonrpc":"2.0","id":5,"method":"eth_chainId"}'):
                await socket.send(message)
                answers.append(json.loads(await asyncio.wait_for(socket.recv(), 30)))
            return answers

    answers = asyncio.run(scenario())
    assert [a.get("error", {}).get("code") for a in answers[:3]] == [-32602] * 3
    assert [a["error"]["code"] for a in answers[3:5]] == [-32600, -32700]
    assert answers[5] == [{"jsonrpc": "2.0", "id": 4, "result": "0x385"}]
    assert answers[6] == {"jsonrpc": "2.0", "id": 5, "result": "0x385"}


def test_test_controls_only_on_the_nodes_own_admin_endpoint(devnet: Devnet) -> None:
    sequencer = devnet.node_url("sequencer-0")
    for url in (devnet.gateway_url, sequencer):
        for method, params in (("devnet_equivocate", []), ("devnet_setCensored", [[USER.address]]),
                               ("devnet_setIgnoreForced", [True])):
            assert rpc(url, method, *params)["error"]["code"] == -32601, (url, method)
    admin = devnet.admin_url("sequencer-0")
    assert admin == devnet.state["chains"][0]["nodes"][0]["admin"]
    assert rpc(admin, "devnet_setCensored", [])["result"] == []
    assert rpc(admin, "eth_chainId")["error"]["code"] == -32601  # the admin endpoint serves controls only


def test_400_forced_entries_over_the_block_gas_limit_all_land_once(devnet: Devnet) -> None:
    state, verifier = devnet.state, devnet.node_url("verifier-0")
    l1 = Web3(HTTPProvider(state["l1"]["rpc"], request_kwargs={"timeout": 30}))
    inbox = l1.eth.contract(address=state["contracts"]["Inbox"], abi=load_artifact("Inbox")["abi"])
    fee = inbox.functions.forcedInclusionFee().call()
    l2_nonce = Web3(HTTPProvider(devnet.gateway_url)).eth.get_transaction_count(USER.address, "pending")
    # 80M gas in all, over the 30M block limit even per L1 block (Anvil mines ~250 of these calls in one)
    raws = [signed(l2_nonce + n, gas=200_000) for n in range(400)]
    gas = inbox.functions.forceInclude(901, raws[0]).estimate_gas({"from": USER.address, "value": fee}) * 3 // 2
    l1_nonce, batch = l1.eth.get_transaction_count(USER.address, "pending"), []
    for n, raw in enumerate(raws):  # one JSON-RPC batch to Anvil (which holds the dev keys) makes the 400 calls
        tx = {"from": USER.address, "nonce": hex(l1_nonce + n), "to": inbox.address, "value": hex(fee), "gas": hex(gas),
              "data": inbox.encode_abi("forceInclude", args=[901, raw])}
        batch.append({"jsonrpc": "2.0", "id": n, "method": "eth_sendTransaction", "params": [tx]})
    status, replies = post(state["l1"]["rpc"], json.dumps(batch).encode())
    assert status == 200 and all("result" in reply for reply in replies), [r for r in replies if "error" in r][:3]
    hashes = {"0x" + keccak(raw).hex() for raw in raws}

    def landed() -> list[dict[str, Any]] | None:
        entries = [e for e in rpc(verifier, "rollup_forcedQueue")["result"] if e["txHash"] in hashes]
        done = len(entries) == 400 and all(e["status"] == "included" and e["safe"] for e in entries)
        return entries if done else None

    entries = wait_for(landed, timeout=180, what="400 forced entries included in safe blocks")
    blocks = sorted({e["l2Block"] for e in entries})
    assert len(blocks) >= 3  # the gas budget spread them over blocks
    for number in blocks:
        block = rpc(verifier, "eth_getBlockByNumber", hex(number), False)["result"]
        assert int(block["gasUsed"], 16) <= int(block["gasLimit"], 16)
    # each once: the sender's nonce moved by exactly 400 and every hash has one receipt
    assert Web3(HTTPProvider(verifier)).eth.get_transaction_count(USER.address) == l2_nonce + 400
    sample = rpc(verifier, "eth_getTransactionReceipt", "0x" + keccak(raws[-1]).hex())["result"]
    assert sample is not None and int(sample["status"], 16) == 1


def test_supervisor_restarts_a_crashed_gateway_at_once(devnet: Devnet) -> None:
    gateway = devnet.processes["gateway"]
    failures: list[float] = []
    stop = threading.Event()

    def client() -> None:  # a client polling the one stable URL, timing how long it sees failures
        while not stop.is_set():
            try:
                post(devnet.gateway_url, b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}')
            except OSError:
                failures.append(time.monotonic())
            stop.wait(0.05)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        os.kill(gateway.pid, signal.SIGKILL)  # a crash, not `stop`: the supervisor must bring it back
        restarted = wait_for(lambda: devnet.processes["gateway"] is not gateway and devnet.processes["gateway"],
                             timeout=60, what="the supervisor to restart the gateway")
        def answers() -> bool:
            try:
                return "result" in rpc(devnet.gateway_url, "eth_blockNumber")
            except OSError:  # not listening yet
                return False

        wait_for(answers, timeout=60, what="the restarted gateway to answer")
    finally:
        stop.set()
        thread.join()
    outage = failures[-1] - failures[0] if failures else 0.0
    print(f"gateway SIGKILL: the client saw failures for {outage:.1f}s")
    assert restarted.alive() and devnet.restarts["gateway"] == 1
    saved = json.loads(devnet.config.state_file.read_text())["chains"][0]["gateway"]
    assert saved["pid"] == restarted.pid and saved["restarts"] == 1


def test_websocket_subscriptions_per_connection_are_limited(devnet: Devnet) -> None:
    async def scenario() -> list[Any]:
        async with websockets.connect(devnet.node_url("verifier-0").replace("http", "ws")) as socket:
            replies = []
            for n in range(101):
                await socket.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": "eth_subscribe",
                                              "params": ["newHeads"]}))
                while True:  # skip notifications of the subscriptions already made
                    reply = json.loads(await asyncio.wait_for(socket.recv(), 30))
                    if reply.get("id") == n:
                        replies.append(reply)
                        break
            return replies

    replies = asyncio.run(scenario())
    assert all("result" in reply for reply in replies[:100])
    assert replies[100]["error"] == {"code": -32005, "message": "too many subscriptions on this connection: limit 100"}


def _blocks_during_a_long_call(url: str) -> tuple[bool, str]:
    """One long eth_call (8M gas of a tight loop, seconds of py-evm) while polling the head: whether a
    new block was answered at least 0.3 s before the call's own answer, and what was seen."""
    spinner = "0x" + "5e" * 20  # its code, by state override: JUMPDEST PUSH1 0 JUMP, until out of gas
    call = {"to": spinner, "gas": hex(8_000_000)}
    replies: list[tuple[float, dict[str, Any]]] = []
    samples: list[tuple[float, int]] = []  # (answered at, head)

    def long_call() -> None:
        reply = rpc(url, "eth_call", call, "latest", {spinner: {"code": "0x5b600056"}})
        replies.append((time.monotonic(), reply))

    def head() -> int:
        number = Web3(HTTPProvider(url)).eth.block_number
        samples.append((time.monotonic(), number))
        return number

    started = head()
    caller = threading.Thread(target=long_call)
    caller.start()
    try:
        wait_for(lambda: not caller.is_alive() or head() > started, timeout=60, what="a new block or the call's end")
    finally:
        caller.join(60)
    assert replies and replies[0][1]["error"]["message"] in ("out of gas", "execution aborted (timeout = 5s)")
    answered = replies[0][0]
    seen = any(number > started and at < answered - 0.3 for at, number in samples[1:])
    return seen, f"call answered at {answered}, head {started}, samples {samples}"


def test_blocks_keep_coming_while_a_long_eth_call_runs(devnet: Devnet) -> None:
    """Calls run off the event loop: on it, no request would be answered and no block built until the
    call ended. A loaded machine may build no block within one call, so up to three calls are tried."""
    url = devnet.node_url("sequencer-0")
    tries = []
    for _ in range(3):
        seen, what = _blocks_during_a_long_call(url)
        if seen:
            return
        tries.append(what)
    raise AssertionError("no new block seen well before a long call's answer:\n" + "\n".join(tries))


def test_a_call_past_the_evm_time_budget_is_aborted_and_nothing_stalls(devnet: Devnet) -> None:
    """50M gas of a loop of JUMPDESTs (1 gas each: ~50M opcodes, 15-20 s of py-evm on this machine) is far
    more than 5 s: the gateway's client gets geth's answer after the 5 s budget (not after the whole
    loop), once (not re-sent to the next node), and every process goes on answering."""
    spinner = "0x" + "5e" * 20
    sled = "0x" + "5b" * 1000 + "5f56"  # 1000 x JUMPDEST, PUSH0, JUMP
    started = time.monotonic()
    reply = rpc(devnet.gateway_url, "eth_call", {"to": spinner, "gas": hex(50_000_000)}, "latest",
                {spinner: {"code": sled}})
    took = time.monotonic() - started
    assert reply["error"] == {"code": -32000, "message": "execution aborted (timeout = 5s)"}, reply
    assert 5 <= took < 20, took
    for url in (devnet.gateway_url, devnet.node_url("sequencer-0"), devnet.node_url("verifier-0")):
        assert rpc(url, "eth_chainId")["result"] == "0x385"
