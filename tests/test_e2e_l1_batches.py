"""What L1 accepts, and what derivation does with garbage the authorised sequencer posts."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
import rlp
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractCustomError

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.batch import Batch, BatchBlock, encode_batch
from toolkit.l1.artifacts import load_artifact
from toolkit.testing import safe_number, wait_for

STRANGER = dev_accounts(3)[2]


def inbox(devnet: Devnet, l1_w3: Web3) -> Any:
    return l1_w3.eth.contract(address=devnet.state["contracts"]["Inbox"], abi=load_artifact("Inbox")["abi"])


def post_as(l1_w3: Web3, contract: Any, key: str, first: int, last: int, data: bytes) -> Any:
    sender = Account.from_key(key).address
    cursor = contract.functions.forcedQueueLength(901).call()  # L1 only checks the claim's bounds
    tx = contract.functions.postBatch(901, first, last, cursor, data, b"").build_transaction(
        {"from": sender, "nonce": l1_w3.eth.get_transaction_count(sender, "pending"), "gas": 2_000_000}
    )
    tx_hash = l1_w3.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction)
    return l1_w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)


def skipped(w3: Web3) -> dict[str, str]:
    status = w3.provider.make_request("rollup_syncStatus", [])["result"]
    return {entry["l1TxHash"]: entry["reason"] for entry in status["skippedBatches"]}


def test_only_the_authorised_sequencer_can_post(devnet: Devnet, l1_w3: Web3) -> None:
    contract = inbox(devnet, l1_w3)
    sequencer = devnet.state["sequencers"][0]["address"]
    with pytest.raises(ContractCustomError) as error:
        contract.functions.postBatch(901, 1, 1, 0, b"\x01\x01x", b"").estimate_gas({"from": STRANGER.address})
    selector = Web3.keccak(text="NotSequencer(address,address)")[:4].hex()
    assert error.value.data.startswith("0x" + selector)
    assert sequencer[2:].lower() in error.value.data.lower()
    # A mined attempt reverts too and changes nothing (the real sequencer may post in the same
    # block, so look at the attempt itself: no event, and nothing counted for the stranger).
    receipt = post_as(l1_w3, contract, STRANGER.private_key, 1, 1, b"\x01\x01x")
    assert receipt["status"] == 0 and receipt["logs"] == []
    posted = contract.events.BatchPosted.get_logs(from_block=receipt["blockNumber"], to_block=receipt["blockNumber"])
    assert all(event["args"]["sender"] == sequencer for event in posted)


def test_garbage_batches_are_skipped_and_the_chain_goes_on(
    devnet: Devnet, l1_w3: Web3, sequencer_w3: Web3, verifier_w3: Web3
) -> None:
    contract = inbox(devnet, l1_w3)
    key = devnet.state["sequencers"][0]["private_key"]
    head = verifier_w3.eth.block_number
    garbage = {
        "bad compression": (bytes([1, 1]) + b"this is not zlib", "bad zlib"),
        "bad RLP": (bytes([1, 1]) + zlib.compress(b"\xff\xfe\xfd"), "bad RLP"),
        "unknown version": (bytes([42, 1]) + zlib.compress(rlp.encode([1])), "unknown batch version"),
    }
    hashes = {}
    for name, (data, _) in garbage.items():
        receipt = post_as(l1_w3, contract, key, head + 1, head + 1, data)
        assert receipt["status"] == 1, name
        hashes[name] = receipt["transactionHash"].to_0x_hex()
    for w3 in (verifier_w3, sequencer_w3):
        reasons = wait_for(
            lambda w3=w3: (s := skipped(w3)) and all(h in s for h in hashes.values()) and s,
            what="derivation to skip the garbage",
        )
        for name, (_, expected) in garbage.items():
            assert expected in reasons[hashes[name]], (name, reasons[hashes[name]])
    # A well-formed batch holding an invalid transaction is skipped as a whole.
    bad_tx = bytes(
        Account.sign_transaction(
            {
                "type": 2,
                "chainId": 901,
                "nonce": 0,
                "to": STRANGER.address,
                "value": 10**40,
                "gas": 21_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 1,
            },
            STRANGER.private_key,
        ).raw_transaction
    )
    for _attempt in range(5):  # the real batcher may move the safe head between our read and our post
        safe = verifier_w3.eth.get_block("safe")
        origin = l1_w3.eth.block_number - 1
        # no forced entries, the forced range starting where the parent's ended (earlier tests on this
        # session's devnet may have forced some in): only the transaction is wrong
        forced_end = int.from_bytes(rlp.decode(bytes(safe["extraData"]))[2], "big")
        batch = Batch(
            901,
            safe["number"] + 1,
            bytes(safe["hash"]),
            (BatchBlock(origin, safe["timestamp"] + 1, forced_end, forced_end, (bad_tx,)),),
        )
        receipt = post_as(l1_w3, contract, key, safe["number"] + 1, safe["number"] + 1, encode_batch(batch))
        tx_hash = receipt["transactionHash"].to_0x_hex()
        reason = wait_for(
            lambda h=tx_hash: skipped(verifier_w3).get(h), what="the bad-tx batch to be skipped"
        )
        if "invalid transaction" in reason:
            break
    assert "invalid transaction" in reason and "balance" in reason.lower(), reason
    # The node was not stopped by any of it: new blocks keep becoming safe, with the sequencer's hashes.
    target = sequencer_w3.eth.block_number + 2
    wait_for(lambda: safe_number(verifier_w3) >= target, what="derivation to go on after garbage")
    assert verifier_w3.eth.get_block(target)["hash"] == sequencer_w3.eth.get_block(target)["hash"]
