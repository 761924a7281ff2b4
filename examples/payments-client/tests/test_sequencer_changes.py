"""The payments client across a sequencer handoff and a leader crash: every payment lands once.

These need a mode with several sequencers that rotate (pos, committee): against a single-sequencer
devnet they are skipped, saying so. The project's CI runs them against a pos devnet.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from payments_client import PaymentsClient

AMOUNT = 23_456


@pytest.fixture
def merchant() -> str:
    return Account.create().address


@pytest.fixture(autouse=True)
def _several_sequencers(scenario) -> None:
    if not scenario.rotates:
        pytest.skip(f"mode {scenario.mode} has one sequencer: no handoff, no failover")


def test_payments_land_once_across_a_handoff(devnet, l2, accounts, scenario, merchant) -> None:
    client = PaymentsClient(devnet.state["chains"][0]["rpc"], accounts[3].key.hex())
    before = client.pay("order-10", merchant, AMOUNT)  # sent to the leader that is about to hand off
    handoff = scenario.handoff()
    assert handoff["next"].lower() != handoff["previous"].lower()
    after = client.pay("order-11", merchant, AMOUNT)  # sent to the new leader
    for payment in (before, after):
        receipt = client.settle(payment.payment_id, "safe")
        assert receipt["status"] == 1 and receipt["transactionHash"].to_0x_hex() == payment.tx_hash
    assert l2.eth.get_balance(merchant) == 2 * AMOUNT


@pytest.mark.devnet_shared_state  # a restarted node cannot return to a snapshot taken before it started
def test_a_payment_sent_as_the_leader_crashes_lands_once(devnet, l2, accounts, scenario, merchant) -> None:
    client = PaymentsClient(devnet.state["chains"][0]["rpc"], accounts[4].key.hex())
    crashed = scenario.crash_sequencer()  # SIGKILL the leader
    try:
        payment = client.pay("order-12", merchant, AMOUNT)  # the gateway takes it with the leader down
        receipt = client.settle("order-12", "safe")  # another sequencer, or the leader back, includes it
        assert receipt["status"] == 1 and receipt["transactionHash"].to_0x_hex() == payment.tx_hash
    finally:
        scenario.recover(crashed)
    assert client.pay("order-12", merchant, AMOUNT) is payment  # asking again pays nothing more
    assert l2.eth.get_balance(merchant) == AMOUNT
