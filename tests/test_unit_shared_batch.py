"""The shared-batch format (pure functions): segment lists, the attested digest, namespace selection and
the completeness check a namespace reader runs, and the overdue chain named by a revert."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak
from web3 import Web3

from toolkit.l1.artifacts import load_artifact
from toolkit.l1.client import L1Client
from toolkit.sequencer.shared_batcher import overdue_chain
from toolkit.shared_batch import (
    NamespaceError,
    Segment,
    check_segment_list,
    segments_hash,
    select_namespace,
    shared_batch_digest,
    verify_namespace,
)
from toolkit.signing import SigningDomain

DATAS = [b"\x01\x01one", b"\x01\x01two-two"]
SEGMENTS = [Segment.for_data(901, 1, 3, 0, DATAS[0]), Segment.for_data(902, 5, 6, 2, DATAS[1])]
DOMAIN = SigningDomain(31337, "0x" + "11" * 20)


def test_digest_layout_is_the_inboxes() -> None:
    listed = keccak(encode(["(uint256,uint64,uint64,uint64,bytes32)[]"], [[s.as_tuple() for s in SEGMENTS]]))
    assert segments_hash(SEGMENTS) == listed
    assert shared_batch_digest(DOMAIN, listed) == keccak(encode(["uint256", "address", "bytes32"],
                                                                [31337, DOMAIN.inbox, listed]))
    assert segments_hash(SEGMENTS[:1]) != listed


def test_a_follower_selects_its_own_segment_from_the_calldata() -> None:
    inbox = Web3().eth.contract(address=DOMAIN.inbox, abi=load_artifact("Inbox")["abi"])
    calldata = inbox.encode_abi("postSharedBatch", args=[[s.as_tuple() for s in SEGMENTS], DATAS, b""])
    _, inputs = inbox.decode_function_input(calldata)
    read = L1Client.namespace_of(inputs, 902)
    assert read.segment == SEGMENTS[1] and read.data == DATAS[1]
    assert read.segments_hash == segments_hash(SEGMENTS)
    assert L1Client.namespace_of(inputs, 903).data is None


def test_bad_segment_lists_are_refused() -> None:
    with pytest.raises(NamespaceError, match="ascending"):
        check_segment_list([SEGMENTS[1], SEGMENTS[0]])
    with pytest.raises(NamespaceError, match="ascending"):
        check_segment_list([SEGMENTS[0], SEGMENTS[0]])
    with pytest.raises(NamespaceError, match="does not hash"):
        select_namespace(SEGMENTS, [DATAS[0], b"\x01\x01other"], 902)
    with pytest.raises(NamespaceError, match="2 segments but 1"):
        select_namespace(SEGMENTS, DATAS[:1], 901)


def test_a_reader_checks_completeness_against_the_attested_hash() -> None:
    read = select_namespace(SEGMENTS, DATAS, 901).to_json()
    expected = segments_hash(SEGMENTS)
    assert verify_namespace(read, 901, expected) == DATAS[0]
    with pytest.raises(NamespaceError, match="does not hash to the batch"):
        verify_namespace(read, 901, keccak(b"another batch"))
    hidden = {**read, "proof": {"segments": read["proof"]["segments"][1:]}}
    with pytest.raises(NamespaceError, match="does not hash to the batch"):
        verify_namespace(hidden, 901, expected)
    with pytest.raises(NamespaceError, match="does not match its entry"):
        verify_namespace({**read, "data": "0x" + DATAS[1].hex()}, 901, expected)
    assert verify_namespace({**read, "data": None}, 77, expected) is None


def test_overdue_chain_is_read_from_the_revert() -> None:
    error = "ChainForcedTxOverdue (0x12345678" + (902).to_bytes(32, "big").hex() + "00" * 64 + ")"
    assert overdue_chain(error) == 902
    assert overdue_chain("ForcedTxOverdue (0x1234)") is None


def test_bundle_markers_round_trip_and_refuse_garbage() -> None:
    from toolkit.bundle_markers import (
        BundleMarker,
        MarkedLeg,
        MarkerDecodeError,
        decode_markers,
        encode_markers,
    )

    markers = [BundleMarker(b"\x01" * 32, "execution", (MarkedLeg(901, 7, b"\x02" * 32), MarkedLeg(902, 9, b"\x03" * 32))),
               BundleMarker(b"\x04" * 32, "inclusion", (MarkedLeg(902, 10, b"\x05" * 32),))]
    assert decode_markers(encode_markers(markers)) == markers
    for garbage in (b"", b"\x02\xc0", b"\x01\xff\xff"):
        with pytest.raises(MarkerDecodeError):
            decode_markers(garbage)
