"""Fixture isolation: each test runs between a devnet-wide snapshot and a revert to it (the plugin
does it; nothing here asks for it). One test pays most of an account's balance away and censors it;
the other expects both undone. Both pass in either order (the project's CI runs them both ways).
"""

from __future__ import annotations

import pytest
from payments_client import PaymentsClient

PAYER = 6  # a dev account no other test of this project pays from


@pytest.fixture(scope="session")
def opening_balance(l2, accounts) -> int:
    """The payer's balance when the session first looked (after the snapshot of that test)."""
    return l2.eth.get_balance(accounts[PAYER].address)


def test_a_test_that_pays_most_of_a_balance_away(devnet, l2, accounts, scenario, opening_balance) -> None:
    client = PaymentsClient(devnet.state["chains"][0]["rpc"], accounts[PAYER].key.hex())
    payment = client.pay("order-big", accounts[0].address, opening_balance * 9 // 10)
    assert client.settle(payment.payment_id, "unsafe")["status"] == 1
    assert l2.eth.get_balance(accounts[PAYER].address) < opening_balance // 10
    scenario.censor(accounts[PAYER].address)  # and leaves the sequencer censoring the payer


def test_a_test_that_expects_the_balance_it_started_with(devnet, l2, accounts, opening_balance) -> None:
    assert l2.eth.get_balance(accounts[PAYER].address) == opening_balance
    client = PaymentsClient(devnet.state["chains"][0]["rpc"], accounts[PAYER].key.hex())
    payment = client.pay("order-small", accounts[0].address, 1)  # the censoring was undone too
    assert client.settle(payment.payment_id, "unsafe")["status"] == 1
