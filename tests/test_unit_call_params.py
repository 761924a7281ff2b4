"""Parsing the call object and state overrides (pure): every field geth reads, clear errors for bad input."""

from __future__ import annotations

import pytest

from toolkit.rpc import params as p
from toolkit.rpc.errors import INVALID_PARAMS, RpcError

ADDRESS = "0x" + "ab" * 20
SLOT = "0x" + "00" * 31 + "01"


def test_call_object_reads_access_and_authorization_lists_and_fees() -> None:
    call = p.call_object({
        "from": ADDRESS, "to": ADDRESS, "gas": "0x5208", "value": "0x1", "input": "0x01",
        "accessList": [{"address": ADDRESS, "storageKeys": [SLOT]}],
        "authorizationList": [{"chainId": "0x385", "address": ADDRESS, "nonce": "0x0", "yParity": "0x1",
                               "r": "0x2", "s": "0x3"}],
        "maxFeePerGas": "0x10",
    })
    assert call.gas == 21_000 and call.value == 1 and call.data == b"\x01" and call.fee_per_gas == 16
    assert call.access_list == ((p.address(ADDRESS), (1,)),)
    assert call.authorizations is not None and call.authorizations[0].y_parity == 1
    assert p.call_object({}).access_list is None  # absent means a legacy call, not an empty list


@pytest.mark.parametrize("bad", [
    {"accessList": "nope"},
    {"accessList": [{"address": ADDRESS, "storageKeys": ["0x01"]}]},
    {"authorizationList": [{"chainId": "0x1", "address": ADDRESS}]},
    {"gasPrice": "0x1", "maxFeePerGas": "0x1"},
    {"data": "0x01", "input": "0x02"},
])
def test_bad_call_objects_are_invalid_params(bad: dict[str, object]) -> None:
    with pytest.raises(RpcError) as error:
        p.call_object(bad)
    assert error.value.code == INVALID_PARAMS


def test_state_overrides_as_geth() -> None:
    overrides = p.state_overrides({ADDRESS: {"balance": "0x5", "nonce": "0x2", "code": "0x00",
                                             "stateDiff": {SLOT: SLOT}}})
    account = overrides[p.address(ADDRESS)]
    assert (account.balance, account.nonce, account.code, account.state, account.state_diff) == (
        5, 2, b"\x00", None, {1: 1})
    assert p.state_overrides(None) == {}
    for bad in ({ADDRESS: {"state": {}, "stateDiff": {}}}, {ADDRESS: {"movePrecompileToAddress": ADDRESS}},
                {"0x12": {}}, [ADDRESS], {ADDRESS: {"state": {"0x01": SLOT}}}):
        with pytest.raises(RpcError) as error:
            p.state_overrides(bad)
        assert error.value.code == INVALID_PARAMS
