"""Bundle requests (pure): each leg's chain is found, and bad bundles are refused whole."""

from __future__ import annotations

import pytest
from eth_account import Account

from toolkit.accounts import dev_accounts
from toolkit.sequencer.bundles import BundleBook, BundleRefused, parse_bundle

KEY = dev_accounts(1)[0].private_key


def raw(chain_id: int, nonce: int = 0) -> bytes:
    tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "to": "0x" + "22" * 20, "value": 1, "gas": 21_000,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
    return bytes(Account.sign_transaction(tx, KEY).raw_transaction)


def test_legs_are_assigned_to_their_chains_in_order() -> None:
    bundle = parse_bundle([raw(902), raw(901), raw(902, 1)], "execution", [901, 902])
    assert [leg.chain_id for leg in bundle.legs] == [902, 901, 902]
    assert bundle.chain_ids == [901, 902] and bundle.status == "pending"
    assert parse_bundle([raw(902), raw(901), raw(902, 1)], "execution", [901, 902]).bundle_id == bundle.bundle_id
    assert parse_bundle([raw(902), raw(901), raw(902, 1)], "inclusion", [901, 902]).bundle_id != bundle.bundle_id
    record = bundle.to_json()
    assert record["legs"][0]["chainId"] == 902 and record["blocks"] == {}


@pytest.mark.parametrize(("txs", "atomicity", "message"), [
    ([raw(901)], "eventually", "atomicity must be one of inclusion, execution"),
    ([], "inclusion", "1 to 16 transactions"),
    ([raw(901)] * 17, "inclusion", "1 to 16 transactions"),
    ([raw(903)], "inclusion", r"leg 0 is no valid transaction for chains \[901, 902\]"),
    ([raw(901), b"\x02garbage"], "inclusion", "leg 1 is no valid transaction"),
    ([raw(901), raw(901)], "inclusion", "appears twice"),
])
def test_bad_bundles_are_refused_whole(txs: list[bytes], atomicity: str, message: str) -> None:
    with pytest.raises(BundleRefused, match=message):
        parse_bundle(txs, atomicity, [901, 902])


def test_a_resent_bundle_is_the_same_record_until_it_is_dropped() -> None:
    book = BundleBook()
    first = book.add(parse_bundle([raw(901)], "inclusion", [901, 902]))
    assert book.add(parse_bundle([raw(901)], "inclusion", [901, 902])) is first
    first.status = "dropped"
    again = book.add(parse_bundle([raw(901)], "inclusion", [901, 902]))
    assert again is not first and book.pending() == [again]
