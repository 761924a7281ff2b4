"""The payments client against a real devnet, through the devnet's pytest plugin and scenario API only."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
from eth_account import Account
from payments_client import PaymentsClient
from web3 import Web3

from toolkit.client import ChainWatcher, ClientEvent

AMOUNT = 12_345


@pytest.fixture
def merchant() -> str:
    return Account.create().address  # a fresh address per test: its balance is what we paid it


class Watching:
    """toolkit.client.ChainWatcher run in a thread, collecting what it reports about one transaction."""

    def __init__(self, url: str, tx_hash: str) -> None:
        self.watcher = ChainWatcher(url)
        self.watcher.track(tx_hash)
        self.events: list[ClientEvent] = []
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        self._started.set()
        with contextlib.suppress(asyncio.CancelledError):
            async for event in self.watcher.events():
                self.events.append(event)

    def levels(self) -> list[str]:
        return [e.data["level"] for e in self.events if e.kind == "confirmation"]

    def stop(self) -> None:
        assert self._started.wait(10), "the watcher thread did not start"
        assert self._loop is not None and self._task is not None
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)


def wait_blocks(l2: Web3, count: int, timeout: float = 60.0) -> None:
    target = l2.eth.block_number + count
    deadline = time.monotonic() + timeout
    while l2.eth.block_number < target:
        assert time.monotonic() < deadline, f"no L2 block {target} within {timeout}s"
        time.sleep(0.1)


def test_a_censored_payment_is_forced_through_l1(devnet, l2, accounts, scenario, merchant) -> None:
    payer = accounts[7]
    client = PaymentsClient(devnet.state["chains"][0]["rpc"], payer.key.hex())
    scenario.censor(payer.address)
    try:
        payment = client.pay("order-2", merchant, AMOUNT)
        wait_blocks(l2, 2)
        assert client.level("order-2") is None  # the sequencer leaves it out
        forced = scenario.force_include(payment.raw)
        scenario.advance_l1(9)  # a censoring sequencer lets it in only near its deadline
        assert forced.wait_included(safe=True)["transactionHash"] == payment.tx_hash
    finally:
        scenario.uncensor()
    assert client.settle("order-2", "safe")["status"] == 1
    assert l2.eth.get_balance(merchant) == AMOUNT  # through L1 and the mempool, paid once


@pytest.mark.devnet_shared_state  # Anvil cannot revert across a reorg that reaches below its snapshot
def test_a_safe_payment_survives_an_l1_reorg(devnet, l2, accounts, scenario, merchant) -> None:
    client = PaymentsClient(devnet.state["chains"][0]["rpc"], accounts[8].key.hex())
    payment = client.pay("order-3", merchant, AMOUNT)
    assert client.pay("order-3", merchant, AMOUNT) is payment  # asking twice pays once
    safe = client.settle("order-3", "safe")
    assert scenario.wait_for("safe", payment.tx_hash)["blockHash"] == safe["blockHash"].to_0x_hex()
    reorg = scenario.reorg_l1(3)
    assert all(reorg.replaced[n] != reorg.orphaned[n] for n in reorg.orphaned)  # L1 really changed
    receipt = client.settle("order-3", "safe")
    assert receipt["status"] == 1 and receipt["transactionHash"].to_0x_hex() == payment.tx_hash
    assert l2.eth.get_balance(merchant) == AMOUNT


def test_a_payment_whose_blocks_are_held_back_from_l1_stays_unsafe_until_batches_resume(
    devnet, l2, accounts, scenario, merchant
) -> None:
    client = PaymentsClient(devnet.state["chains"][0]["rpc"], accounts[5].key.hex())
    scenario.pause_batches()
    try:
        payment = client.pay("order-4", merchant, AMOUNT)
        watching = Watching(devnet.state["chains"][0]["rpc"], payment.tx_hash)
        client.settle("order-4", "unsafe")
        scenario.advance_l1(2)  # L1 moves on, no batch carries the payment's block
        assert client.level("order-4") == "unsafe"
    finally:
        scenario.resume_batches()
    try:
        assert client.settle("order-4", "safe")["status"] == 1
        deadline = time.monotonic() + 30
        while "safe" not in watching.levels():
            assert time.monotonic() < deadline, f"the watcher reported {watching.events}"
            time.sleep(0.1)
        assert watching.levels()[:2] == ["unsafe", "safe"]  # the client helper saw both, in order
    finally:
        watching.stop()
    assert l2.eth.get_balance(merchant) == AMOUNT
