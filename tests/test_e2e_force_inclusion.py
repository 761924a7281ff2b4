"""Force inclusion through L1, against real Anvil and real node processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.force_include import ForcedTx, force_include
from toolkit.l1.artifacts import load_artifact
from toolkit.testing import fast_config, wait_for

ACCOUNTS = dev_accounts(20)


def l2_transfer(sender: int, nonce: int, *, chain_id: int = 901, value: int = 10**15, to: int = 19) -> bytes:
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": ACCOUNTS[to].address,
        "value": value,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
    }
    return bytes(Account.sign_transaction(tx, ACCOUNTS[sender].private_key).raw_transaction)


def rpc(url: str, method: str, *params: Any) -> Any:
    reply = Web3(HTTPProvider(url)).provider.make_request(method, list(params))
    assert "error" not in reply, reply
    return reply["result"]


def queue_entry(url: str, index: int) -> dict[str, Any] | None:
    return next((e for e in rpc(url, "rollup_forcedQueue") if e["index"] == index), None)


def origin_of(w3: Web3, block_number: int) -> int:
    return int.from_bytes(rlp.decode(bytes(w3.eth.get_block(block_number)["extraData"]))[0], "big")


def submit(network: Devnet, raw: bytes, payer: int = 0) -> ForcedTx:
    state = network.state
    return force_include(
        state["l1"]["rpc"], state["contracts"]["Inbox"], 901, raw, ACCOUNTS[payer].private_key
    )


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    devnet = Devnet(fast_config(tmp_path_factory.mktemp("forced")))
    devnet.up()
    try:
        yield devnet
    finally:
        devnet.down()


@pytest.mark.slow
def test_censored_transaction_lands_through_l1_by_its_deadline(network: Devnet) -> None:
    sequencer_url, verifier_url = network.node_url("sequencer-0"), network.node_url("verifier-0")
    sequencer, verifier = Web3(HTTPProvider(sequencer_url)), Web3(HTTPProvider(verifier_url))
    victim = 3
    admin_url = network.admin_url("sequencer-0")
    rpc(admin_url, "devnet_setCensored", [ACCOUNTS[victim].address])
    try:
        raw = l2_transfer(victim, 0)
        tx_hash = sequencer.eth.send_raw_transaction(raw)
        head = sequencer.eth.block_number
        wait_for(lambda: sequencer.eth.block_number >= head + 3, what="three L2 blocks")
        assert rpc(sequencer_url, "eth_getTransactionReceipt", tx_hash.to_0x_hex()) is None, (
            "censored tx landed"
        )
        handle = submit(network, raw, payer=victim)
        assert handle.tx_hash == tx_hash.to_0x_hex()
        receipt = handle.wait_included(verifier_url, safe=True, timeout=60)
        assert int(receipt["status"], 16) == 1
        block = int(receipt["blockNumber"], 16)
        assert origin_of(verifier, block) <= handle.deadline, "included later than the deadline's L1 block"
        assert sequencer.eth.get_block(block)["hash"] == verifier.eth.get_block(block)["hash"]
        # It came in through the sequencer's own batch (not derivation's fallback), recorded on L1.
        status = rpc(verifier_url, "rollup_syncStatus")
        assert status["blocksForcedByDerivation"] == 0
        l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
        inbox = l1.eth.contract(
            address=network.state["contracts"]["Inbox"], abi=load_artifact("Inbox")["abi"]
        )
        included = inbox.events.ForcedTxIncluded().get_logs(from_block=handle.l1_block)
        assert any(e["args"]["fromIndex"] <= handle.index < e["args"]["toIndex"] for e in included)
        # The censored mempool copy is gone, not included twice.
        assert sequencer.eth.get_transaction_count(ACCOUNTS[victim].address) == 1
    finally:
        rpc(admin_url, "devnet_setCensored", [])


@pytest.mark.slow
def test_batch_skipping_an_overdue_entry_is_refused_and_the_sequencer_recovers(network: Devnet) -> None:
    sequencer_url, verifier_url = network.node_url("sequencer-0"), network.node_url("verifier-0")
    rejections = rpc(sequencer_url, "rollup_syncStatus")["sequencing"]["overdueRejections"]  # earlier tests'
    rpc(network.admin_url("sequencer-0"), "devnet_setIgnoreForced", True)
    handle = submit(network, l2_transfer(4, 0), payer=4)
    receipt = handle.wait_included(verifier_url, safe=True, timeout=90)
    assert int(receipt["status"], 16) == 1
    sequencing = wait_for(
        lambda: (
            (s := rpc(sequencer_url, "rollup_syncStatus")["sequencing"])["overdueRejections"] > rejections
            and s
        ),
        timeout=30,
        what="L1 to refuse a batch with ForcedTxOverdue",
    )
    assert sequencing["ignoreForced"] is False, "the sequencer did not notice"
    # Batches flow again and the sequencer's chain agrees with derivation.
    posted = sequencing["batchesPosted"]
    wait_for(
        lambda: rpc(sequencer_url, "rollup_syncStatus")["sequencing"]["batchesPosted"] > posted + 1,
        timeout=30,
        what="batches after the refusal",
    )
    sequencer, verifier = Web3(HTTPProvider(sequencer_url)), Web3(HTTPProvider(verifier_url))
    safe = verifier.eth.get_block("safe")["number"]
    assert sequencer.eth.get_block(safe)["hash"] == verifier.eth.get_block(safe)["hash"]
    assert queue_entry(sequencer_url, handle.index)["status"] == "included"


@pytest.mark.slow
def test_invalid_forced_transactions_are_skipped_alike_by_every_node(network: Devnet) -> None:
    sequencer_url, verifier_url = network.node_url("sequencer-0"), network.node_url("verifier-0")
    sequencer = Web3(HTTPProvider(sequencer_url))
    sender = 5
    used_nonce = sequencer.eth.get_transaction_count(ACCOUNTS[sender].address)
    sequencer.eth.wait_for_transaction_receipt(
        sequencer.eth.send_raw_transaction(l2_transfer(sender, used_nonce))
    )
    bad = {
        "garbage": b"\x02\xde\xad\xbe\xef",
        "wrong chain": l2_transfer(sender, used_nonce + 1, chain_id=902),
        "nonce used": l2_transfer(sender, used_nonce, value=7),
    }
    handles = {name: submit(network, raw, payer=sender) for name, raw in bad.items()}
    good = submit(network, l2_transfer(sender, used_nonce + 1), payer=sender)
    receipt = good.wait_included(verifier_url, safe=True, timeout=60)
    assert int(receipt["status"], 16) == 1
    expectations = {"garbage": "decoded", "wrong chain": "chain id", "nonce used": "nonce"}
    for url in (sequencer_url, verifier_url):
        for name, handle in handles.items():
            entry = wait_for(lambda u=url, h=handle: queue_entry(u, h.index), what=f"entry {name} on {url}")
            assert entry["status"] == "skipped" and expectations[name] in entry["reason"].lower(), (
                url,
                entry,
            )
        assert queue_entry(url, good.index)["status"] == "included"
    assert sequencer.eth.get_transaction_count(ACCOUNTS[sender].address) == used_nonce + 2


@pytest.mark.slow
def test_forced_transaction_lands_with_the_sequencer_dead(tmp_path: Path) -> None:
    network = Devnet(fast_config(tmp_path))
    network.up()
    try:
        verifier_url = network.node_url("verifier-0")
        verifier = Web3(HTTPProvider(verifier_url))
        network.processes["sequencer-0"].kill()
        receiver = ACCOUNTS[18].address
        before = verifier.eth.get_balance(receiver)
        handle = submit(network, l2_transfer(6, 0, value=777, to=18), payer=6)
        receipt = handle.wait_included(verifier_url, safe=True, timeout=60)
        assert int(receipt["status"], 16) == 1
        block = int(receipt["blockNumber"], 16)
        assert origin_of(verifier, block) >= handle.deadline  # derivation put it in, past the deadline
        assert verifier.eth.get_balance(receiver) == before + 777
        assert rpc(verifier_url, "rollup_syncStatus")["blocksForcedByDerivation"] >= 1
    finally:
        network.down()


@pytest.mark.slow
def test_two_hundred_forced_transactions_from_twenty_senders(tmp_path: Path) -> None:
    network = Devnet(fast_config(tmp_path, dev_accounts=20))
    network.up()
    try:
        l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
        inbox = l1.eth.contract(
            address=network.state["contracts"]["Inbox"], abi=load_artifact("Inbox")["abi"]
        )
        fee = inbox.functions.forcedInclusionFee().call()
        raws = [
            l2_transfer(sender, nonce, to=(sender + 1) % 20) for nonce in range(10) for sender in range(20)
        ]
        l1_hashes = []
        l1_nonces = {s: l1.eth.get_transaction_count(ACCOUNTS[s].address) for s in range(20)}
        for position, raw in enumerate(raws):  # all sent at once, mined together
            sender = position % 20
            tx = inbox.functions.forceInclude(901, raw).build_transaction(
                {
                    "from": ACCOUNTS[sender].address,
                    "value": fee,
                    "gas": 300_000,
                    "nonce": l1_nonces[sender],
                    "chainId": l1.eth.chain_id,
                    "maxFeePerGas": 10**11,
                    "maxPriorityFeePerGas": 10**9,
                }
            )
            l1_nonces[sender] += 1
            l1_hashes.append(
                l1.eth.send_raw_transaction(
                    Account.sign_transaction(tx, ACCOUNTS[sender].private_key).raw_transaction
                )
            )
        for tx_hash in l1_hashes:
            assert l1.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.2)["status"] == 1
        verifier_url = network.node_url("verifier-0")
        entries = wait_for(
            lambda: (
                (q := rpc(verifier_url, "rollup_forcedQueue"))
                and len(q) == 200
                and all(e["status"] == "included" and e["safe"] for e in q)
                and q
            ),
            timeout=120,
            what="all 200 forced entries to be safe on L2",
        )
        verifier = Web3(HTTPProvider(verifier_url))
        queue_hashes = [e["txHash"] for e in sorted(entries, key=lambda e: e["index"])]
        positions = []
        for tx_hash in queue_hashes:
            receipt = verifier.eth.get_transaction_receipt(tx_hash)
            assert receipt["status"] == 1
            positions.append((receipt["blockNumber"], receipt["transactionIndex"]))
        assert positions == sorted(positions) and len(set(positions)) == 200, "not in queue order, or twice"
        for sender in range(20):
            assert verifier.eth.get_transaction_count(ACCOUNTS[sender].address) == 10
    finally:
        network.down()
