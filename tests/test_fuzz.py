"""Property-based fuzzing (hypothesis) of what the network can hand a node: batch data, raw
transactions (admission against execution), JSON-RPC requests to every method, gossip messages.

The suite runs a bounded profile; `HYPOTHESIS_PROFILE=long` runs 100,000 inputs per target (hours:
lift the suite's 300 s per-test timeout):

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_fuzz.py -q --timeout 0
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.batch import COMPRESSION_NONE, COMPRESSION_ZLIB, BatchDecodeError, decode_batch, encode_batch
from toolkit.l2.executor import BlockAttributes, L2Executor
from toolkit.l2.transactions import InvalidTransaction
from toolkit.l2.txpool import TxPool
from toolkit.node.config import NodeConfig
from toolkit.node.gossip import GossipRejected
from toolkit.node.node import L2Node
from toolkit.rpc.eth_api import EthApi
from toolkit.rpc.rollup_api import RollupApi
from toolkit.rpc.server import JsonRpcServer
from toolkit.testing import ACCOUNTS, CHAIN_ID, batch_of, build_block, chain_config, new_state, transfer
from toolkit.testing.chain import L1Block

settings.register_profile("suite", max_examples=20, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=100_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

ATTRIBUTES = BlockAttributes(timestamp=1_700_000_005, l1_origin_number=3, l1_origin_hash=b"\x33" * 32)
ORIGIN = L1Block(1, b"\x11" * 32, 1_700_000_001)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=70),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


# ----- the batch codec -----
@given(st.binary(max_size=400), st.sampled_from([0, 1, 2, 7]))
def test_any_bytes_decode_to_a_batch_or_a_batch_decode_error(body: bytes, compression: int) -> None:
    try:
        decode_batch(bytes([1, compression]) + body)
    except BatchDecodeError:
        pass


_chain = new_state()
for _n in range(3):
    build_block(_chain, ORIGIN, [transfer(0, _n)])


@given(st.integers(1, 3), st.integers(0, 2), st.sampled_from([COMPRESSION_NONE, COMPRESSION_ZLIB]))
def test_batches_round_trip(first: int, length: int, compression: int) -> None:
    last = min(3, first + length)
    batch = batch_of(_chain, first, last)
    assert decode_batch(encode_batch(batch, compression)) == batch


# ----- admission against execution -----
_executor = L2Executor(chain_config())
_pool = TxPool(_executor)

TX_FIELDS = st.fixed_dictionaries({
    "type": st.sampled_from([0, 1, 2]),
    "nonce": st.sampled_from([0, 1, 2**64 - 2, 2**64 - 1, 2**64]),
    "gas": st.sampled_from([0, 20_999, 21_000, 53_000, 100_000, 30_000_000, 30_000_001]),
    "create": st.booleans(),
    "data": st.sampled_from([b"", b"\0" * 64, b"\x60\x00" * 40, b"\xfe", b"\0" * 49_153, b"\x01" * 5000]),
    "value": st.sampled_from([0, 1, 10**30]),
    "fee": st.sampled_from([0, 10**9, 2 * 10**9, 10**12]),
})


def _sign(fields: dict[str, Any]) -> bytes:
    tx: dict[str, Any] = {"chainId": CHAIN_ID, "nonce": fields["nonce"], "gas": fields["gas"],
                          "value": fields["value"], "data": fields["data"]}
    if not fields["create"]:
        tx["to"] = ACCOUNTS[3].address
    if fields["type"] == 2:
        tx.update(type=2, maxFeePerGas=fields["fee"], maxPriorityFeePerGas=min(fields["fee"], 1))
    else:
        tx.update(gasPrice=fields["fee"])
        if fields["type"] == 1:
            tx.update(type=1, accessList=[])
    return bytes(Account.sign_transaction(tx, ACCOUNTS[0].private_key).raw_transaction)


@given(TX_FIELDS)
def test_an_admitted_transaction_executes_or_is_skipped_the_same_way_every_time(fields: dict[str, Any]) -> None:
    try:
        raw = _sign(fields)
    except Exception:  # eth-account refuses to sign it at all
        return
    try:
        _pool.add(raw)
        admitted, executable = True, raw in _pool.executable()  # a nonce gap is admitted but held
    except InvalidTransaction:
        admitted = executable = False
    finally:
        _pool.drop(_pool_hash(raw))
    first = _executor.execute_block(_executor.head, ATTRIBUTES, [raw], strict=False, forced_transactions=[raw])
    again = _executor.execute_block(_executor.head, ATTRIBUTES, [raw], strict=False, forced_transactions=[raw])
    assert first.hash == again.hash and first.forced_outcomes == again.forced_outcomes
    outcome = first.forced_outcomes[0]
    if executable:  # admitted and next in line: it runs, unless it pays less than the block's base fee
        assert outcome is None or "base fee" in outcome, outcome
    if not admitted:
        assert outcome is not None  # what the pool refuses, a block skips
    for receipt in first.receipts:
        assert receipt.gas_used <= first.block.header.gas_limit


def _pool_hash(raw: bytes) -> bytes:
    from eth_utils import keccak

    return keccak(raw)


# ----- JSON-RPC requests to every method -----
def _node() -> L2Node:
    config = NodeConfig(name="fuzz", role="verifier", chain=chain_config(), l1_rpc_url="http://127.0.0.1:9",
                        inbox_address="0x" + "11" * 20, registry_address="0x" + "22" * 20)
    return L2Node(config)


_rpc_node = _node()
_eth = EthApi(_rpc_node)
_methods = {**_eth.methods(), **RollupApi(_rpc_node, "single", _eth._header_or_none).methods()}
_methods.pop("eth_sendRawTransaction")  # a verifier forwards it over the network
_server = JsonRpcServer(_methods)


@given(st.sampled_from(sorted(_methods)), st.lists(JSON, max_size=4), JSON)
def test_every_method_answers_any_params_with_a_standard_reply(method: str, params: list[Any], request_id: Any) -> None:
    if isinstance(request_id, dict | list | float) or isinstance(request_id, bool):
        request_id = 1
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
    reply = asyncio.run(_server.handle_text(body, connection=None))
    json.dumps(reply, allow_nan=False)  # valid JSON, whatever came in
    assert reply["jsonrpc"] == "2.0" and reply["id"] == request_id
    if "error" in reply:
        assert isinstance(reply["error"]["code"], int) and isinstance(reply["error"]["message"], str)
        assert reply["error"]["code"] != -32603, reply  # an internal error is a bug in param checking
    else:
        assert "result" in reply


@pytest.mark.parametrize(("method", "params"), [
    ("rollup_auction", []), ("rollup_getNamespaces", ["0x1", "0x2"]), ("rollup_getNamespace", ["0x" + "11" * 32]),
])
def test_methods_that_read_l1_say_it_is_unreachable(method: str, params: list[Any]) -> None:
    """The long profile found rollup_auction answering -32603 with L1 down (this node's L1 is port 9)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    error = asyncio.run(_server.handle_text(body, connection=None))["error"]
    assert error["code"] == -32000, error
    assert error["message"] in ("mode single has no auction", ) or error["message"].startswith(
        "L1 unreachable (http://127.0.0.1:9)"), error


# ----- gossip messages -----
@given(JSON)
def test_any_gossip_message_is_refused_cleanly(message: Any) -> None:
    try:
        asyncio.run(_rpc_node.receiver.receive(message if isinstance(message, dict) else {"block": message}))
    except GossipRejected:
        pass


@pytest.fixture(scope="module", autouse=True)
def _close() -> Any:
    yield
    asyncio.run(_rpc_node.stop())
