"""eth_getLogs over a long range is read in a worker thread, so the node keeps building and answering
meanwhile (issue 10: it used to walk every header on the event loop); a short range stays on the loop.
Both give the same logs. In process, with real py-evm blocks."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import rlp
from eth_utils import keccak, to_checksum_address

from toolkit.l1.blocks import L1Block
from toolkit.node.config import NodeConfig
from toolkit.node.node import L2Node
from toolkit.rpc.eth_api import LOGS_OFF_LOOP_BLOCKS, EthApi
from toolkit.testing import ACCOUNTS, GENESIS_TIMESTAMP, build_block, chain_config, transfer

ORIGIN = L1Block(1, b"\x11" * 32, GENESIS_TIMESTAMP + 1)
# init code of a contract whose runtime logs (LOG0) the 32-byte word 42 on every call
LOGGER_INIT = bytes.fromhex("600b600c600039600b6000f3" + "602a60005260206000a000")
CALLS = LOGS_OFF_LOOP_BLOCKS + 44  # blocks with one log each: past the on-loop limit


def test_a_long_range_is_read_off_the_loop_and_gives_what_short_ranges_give() -> None:
    config = NodeConfig(name="logs", role="verifier", chain=chain_config(), l1_rpc_url="http://127.0.0.1:9",
                        inbox_address="0x" + "11" * 20, registry_address="0x" + "22" * 20)
    node = L2Node(config)
    state = node.follower.state
    build_block(state, ORIGIN, [transfer(0, 0, value=0, to="", data=LOGGER_INIT, gas=200_000)])
    logger = to_checksum_address(keccak(rlp.encode([bytes.fromhex(ACCOUNTS[0].address[2:]), 0]))[12:])
    for nonce in range(1, CALLS + 1):
        build_block(state, ORIGIN, [transfer(0, nonce, value=0, to=logger, gas=50_000)])
    eth = EthApi(node)
    threads: list[bool] = []  # per scan: did it run on the event loop's thread
    scan = eth.logs_in_range

    def spy(first: int, last: int, criteria: Any) -> list[dict[str, Any]]:
        threads.append(threading.current_thread() is threading.main_thread())
        return scan(first, last, criteria)

    eth.logs_in_range = spy  # type: ignore[method-assign]

    async def query() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        long = await eth.eth_getLogs([{"fromBlock": "0x1", "toBlock": hex(CALLS + 1), "address": logger}])
        short = await eth.eth_getLogs([{"fromBlock": "0x2", "toBlock": "0x11", "address": logger}])
        return long, short

    long, short = asyncio.run(query())
    assert threads == [False, True], "the long range on a worker thread, the short one on the loop"
    assert len(long) == CALLS and all(int(entry["data"], 16) == 42 for entry in long)
    assert [int(entry["blockNumber"], 16) for entry in long] == list(range(2, CALLS + 2))
    assert short == long[:16]
