"""Mode shared: one validator set (three validators) sequences chains 901 and 902 from one devnet.

Proves: one leader per epoch for both chains (each chain still gets its own SequencerChanged), every
accepted transaction lands exactly once across handoffs, each chain's verifier derives the leaders'
hashes from shared batches, L1 holds one batch transaction per posting (postSharedBatch, never
postBatch), and a namespace read over RPC comes with a proof of completeness.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.config import ConfigError
from devnet.network import Devnet, rpc_call
from toolkit.accounts import dev_accounts
from toolkit.force_include import force_include
from toolkit.l1.artifacts import load_artifact
from toolkit.shared_batch import NamespaceError, verify_namespace
from toolkit.testing import fast_config, l1_changes, raw_receipt, safe_number, wait_for
from toolkit.testing.running import running_devnet

CHAINS = (901, 902)
ACCOUNTS = dev_accounts(10)


def test_mode_shared_needs_two_to_eight_chains(tmp_path) -> None:
    with pytest.raises(ConfigError, match="mode shared sequences 2 to 8 chains at once, not 1"):
        fast_config(tmp_path, mode="shared", chains=(901,))
    with pytest.raises(ConfigError, match="mode shared sequences 2 to 8 chains at once, not 9"):
        fast_config(tmp_path, mode="shared", chains=tuple(range(901, 910)))


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    config = fast_config(tmp_path_factory.mktemp("shared"), mode="shared", sequencers=3, epoch_length=6,
                         liveness_timeout=8, chains=CHAINS)
    with running_devnet(config) as network:
        yield network


def transfer(chain_id: int, nonce: int, value: int) -> str:
    tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "to": ACCOUNTS[8].address, "value": value,
          "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
    return "0x" + bytes(Account.sign_transaction(tx, ACCOUNTS[5].private_key).raw_transaction).hex()


def inbox_of(network: Devnet, l1: Web3):
    return l1.eth.contract(address=network.state["contracts"]["Inbox"], abi=load_artifact("Inbox")["abi"])


@pytest.mark.slow
def test_one_leader_orders_both_chains_and_one_l1_tx_carries_both(shared: Devnet) -> None:
    network = shared
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    start = l1.eth.block_number
    gateways = {c: Web3(HTTPProvider(network.gateway_urls[c])) for c in CHAINS}
    accepted: dict[int, list[str]] = {c: [] for c in CHAINS}
    nonce = 0

    def send_round() -> None:
        nonlocal nonce
        for chain_id, gateway in gateways.items():
            reply = gateway.provider.make_request("eth_sendRawTransaction", [transfer(chain_id, nonce, 1 + nonce)])
            assert "result" in reply, reply
            accepted[chain_id].append(reply["result"])
        nonce += 1

    def handoffs_seen() -> int:
        send_round()  # a client on each chain keeps sending through the handoffs
        return len(l1_changes(network, start, 901)) >= 3

    wait_for(handoffs_seen, timeout=150, what="three leader changes on chain 901 while clients send")
    receipts = {
        c: wait_for(lambda c=c: (r := [raw_receipt(gateways[c], h) for h in accepted[c]]) and all(r) and r,
                    timeout=90, what=f"every accepted transfer on chain {c} to land")
        for c in CHAINS
    }
    for chain_id in CHAINS:  # exactly once: one receipt each, and the sender's nonce counts them all
        assert all(int(r["status"], 16) == 1 for r in receipts[chain_id])
        assert gateways[chain_id].eth.get_transaction_count(ACCOUNTS[5].address) == nonce

    # one leader for both chains: each chain saw its own SequencerChanged, and at every change's L1 block
    # L1 names that validator for the other chain too
    registry = l1.eth.contract(address=network.state["registry"]["address"],
                               abi=load_artifact(network.state["registry"]["contract"])["abi"])
    for chain_id, other in ((901, 902), (902, 901)):
        events = registry.events.SequencerChanged().get_logs(from_block=start, argument_filters={"chainId": chain_id})
        assert len(events) >= 3
        for event in events:
            at = event["blockNumber"]
            assert registry.functions.sequencerFor(other, at).call(block_identifier=at) == event["args"]["next"]

    last = {c: max(int(r["blockNumber"], 16) for r in receipts[c]) for c in CHAINS}
    for chain_id in CHAINS:
        verifier = Web3(HTTPProvider(network.node_url("verifier-0", chain_id)))
        wait_for(lambda v=verifier, c=chain_id: safe_number(v) >= last[c], timeout=90,
                 what=f"chain {chain_id}'s verifier to derive the transfers from shared batches")
        safe = safe_number(verifier)
        gateway = gateways[chain_id]
        for number in range(1, safe + 1):
            assert gateway.eth.get_block(number)["hash"] == verifier.eth.get_block(number)["hash"], (chain_id, number)
        status = rpc_call(network.node_url("verifier-0", chain_id), "rollup_syncStatus")
        # a new leader may re-post blocks its predecessor posted in the same L1 block: skipped as redundant
        assert all("the safe head is" in b["reason"] for b in status["skippedBatches"]), status["skippedBatches"]

    # L1: every BatchPosted of either chain comes from a postSharedBatch transaction, one per posting
    inbox = inbox_of(network, l1)
    head = l1.eth.block_number
    batch_txs = {bytes(e["transactionHash"]) for e in inbox.events.BatchPosted.get_logs(from_block=start, to_block=head)}
    shared_events = inbox.events.SharedBatchPosted.get_logs(from_block=start, to_block=head)
    shared_txs = [bytes(e["transactionHash"]) for e in shared_events]
    assert len(shared_txs) == len(set(shared_txs)) >= 3
    assert batch_txs == set(shared_txs)
    assert any(e["args"]["segmentCount"] == 2 for e in shared_events)
    for tx_hash in list(batch_txs)[:5]:
        function, _ = inbox.decode_function_input(l1.eth.get_transaction(tx_hash)["input"])
        assert function.fn_name == "postSharedBatch"
    senders = {e["args"]["sender"] for e in shared_events}
    assert len(senders) >= 2, "batches from more than one leader"


def test_namespace_reads_come_with_a_completeness_proof(shared: Devnet) -> None:
    network = shared
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    inbox = inbox_of(network, l1)
    first_l1 = 0
    event = wait_for(
        lambda: next((e for e in inbox.events.SharedBatchPosted.get_logs(from_block=first_l1, to_block="latest")
                      if e["args"]["segmentCount"] == 2), None),
        timeout=60, what="a shared batch carrying both chains",
    )
    tx_hash = "0x" + bytes(event["transactionHash"]).hex()
    segments_hash = bytes(event["args"]["segmentsHash"])
    datas = {}
    for chain_id in CHAINS:
        read = rpc_call(network.gateway_urls[chain_id], "rollup_getNamespace", [tx_hash])
        assert read["chainId"] == chain_id and read["segment"]["chainId"] == chain_id
        assert read["segmentsHash"] == "0x" + segments_hash.hex()
        assert [s["chainId"] for s in read["proof"]["segments"]] == list(CHAINS)
        datas[chain_id] = verify_namespace(read, chain_id, segments_hash)
        assert datas[chain_id] is not None
        # a chain the batch does not carry gets an empty namespace, provably
        assert verify_namespace({**read, "data": None}, 903, segments_hash) is None
        # tampering is caught: other data, or a list with our entry left out
        with pytest.raises(NamespaceError):
            verify_namespace({**read, "data": "0x" + datas[chain_id][:-1].hex()}, chain_id, segments_hash)
        trimmed = {**read, "proof": {"segments": [s for s in read["proof"]["segments"] if s["chainId"] != chain_id]}}
        with pytest.raises(NamespaceError):
            verify_namespace(trimmed, chain_id, segments_hash)
    assert datas[901] != datas[902]
    # ranged reads: the same batch among those of its L1 block
    ranged = rpc_call(network.node_url("verifier-0", 902), "rollup_getNamespaces",
                      [hex(event["blockNumber"]), hex(event["blockNumber"])])
    assert tx_hash in [r["l1TxHash"] for r in ranged]
    # bad input gets a clear error
    reply = Web3(HTTPProvider(network.gateway_urls[901])).provider.make_request(
        "rollup_getNamespaces", ["0x10", "0x1"])
    assert reply["error"]["code"] == -32602


REVERTING_INIT = bytes.fromhex("60006000fd")  # PUSH1 0 PUSH1 0 REVERT: a contract creation that reverts


def leg(chain_id: int, nonce: int, reverts: bool = False) -> str:
    tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "gas": 100_000 if reverts else 21_000,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "value": 0 if reverts else 7,
          **({"data": REVERTING_INIT} if reverts else {"to": ACCOUNTS[8].address})}
    return "0x" + bytes(Account.sign_transaction(tx, ACCOUNTS[2].private_key).raw_transaction).hex()


def settle_bundle(network: Devnet, txs: list[str], atomicity: str) -> dict:
    """Send through chain 901's gateway until a leader settles it (a handoff drops a bundle whole: resend)."""

    def attempt() -> dict | None:
        reply = Web3(HTTPProvider(network.gateway_urls[901])).provider.make_request(
            "rollup_sendBundle", [{"txs": txs, "atomicity": atomicity}])
        if "error" in reply:
            assert "does not lead" in reply["error"]["message"], reply
            return None  # the gateway has not seen the handoff yet
        node_url = network.node_url(reply["result"]["node"], 901)
        bundle_id = reply["result"]["bundleId"]
        record = wait_for(lambda: (r := rpc_call(node_url, "rollup_getBundle", [bundle_id]))
                          and r["status"] != "pending" and r, timeout=60, what="the bundle to settle")
        if record["status"] == "dropped" and "leader changed" in record["reason"]:
            return None
        return record

    return wait_for(attempt, timeout=180, what="a leader to settle the bundle")


def receipts_of(network: Devnet, record: dict) -> list[dict]:
    return [wait_for(lambda leg=leg: raw_receipt(Web3(HTTPProvider(network.gateway_urls[leg["chainId"]])),
                                                  leg["txHash"]), timeout=30, what="a bundle leg's receipt")
            for leg in record["legs"]]


def nonce_on(network: Devnet, chain_id: int) -> int:
    return Web3(HTTPProvider(network.gateway_urls[chain_id])).eth.get_transaction_count(ACCOUNTS[2].address)


def test_cross_chain_bundles_land_whole_or_not_at_all(shared: Devnet) -> None:
    network = shared
    # inclusion: both legs land in one slot, the reverting one with status 0
    record = settle_bundle(network, [leg(901, 0), leg(902, 0, reverts=True)], "inclusion")
    assert record["status"] == "included" and record["slot"] is not None
    receipts = receipts_of(network, record)
    assert [int(r["status"], 16) for r in receipts] == [1, 0]
    assert {str(leg["chainId"]): int(r["blockNumber"], 16) for leg, r in zip(record["legs"], receipts, strict=True)} \
        == record["blocks"]
    # execution with a reverting leg: none lands
    record = settle_bundle(network, [leg(901, 1), leg(902, 1, reverts=True)], "execution")
    assert record["status"] == "dropped" and "would revert" in record["reason"]
    # inclusion with a bad nonce: none lands
    record = settle_bundle(network, [leg(901, 1), leg(902, 9)], "inclusion")
    assert record["status"] == "dropped" and "would not be included" in record["reason"]
    assert (nonce_on(network, 901), nonce_on(network, 902)) == (1, 1)
    # execution, every leg succeeds: both land
    record = settle_bundle(network, [leg(902, 1), leg(901, 1)], "execution")
    assert record["status"] == "included"
    assert [int(r["status"], 16) for r in receipts_of(network, record)] == [1, 1]
    assert (nonce_on(network, 901), nonce_on(network, 902)) == (2, 2)
    # bad bundles are refused whole, with a clear error
    gateway = Web3(HTTPProvider(network.gateway_urls[902])).provider
    for bad, message in (([leg(901, 2)], "atomicity must be one of"), ([leg(903, 0)], "no valid transaction")):
        reply = gateway.make_request("rollup_sendBundle", [{"txs": bad, "atomicity": "maybe" if "atomicity" in
                                                            message else "inclusion"}])
        assert reply["error"]["code"] == -32602 and message in reply["error"]["message"], reply


def test_the_all_chains_verifier_checks_every_bundle_marker(shared: Devnet) -> None:
    network = shared
    verifier = network.node_url("verifier-0", 902)
    good = settle_bundle(network, [leg(901, nonce_on(network, 901)), leg(902, nonce_on(network, 902))], "execution")
    assert good["status"] == "included"
    audit = wait_for(lambda: (a := rpc_call(verifier, "rollup_syncStatus")["bundleAudit"])["markersChecked"] >= 1
                     and a, timeout=60, what="the verifier to check a bundle marker from L1")
    assert audit["violations"] == []
    # a leader that splits a bundle (signs one chain's block, marks both) is caught
    sequencers = [network.admin_url(name, 901) for name in network.sequencer_names]
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    epoch_length = network.state["l1"]["epoch_length"]

    def reported(bundle_id: str) -> list[dict]:
        return [v for v in rpc_call(verifier, "rollup_syncStatus")["bundleAudit"]["violations"]
                if v["bundleId"] == bundle_id]

    sent_split: set[str] = set()
    # Only the leader that took a bundle can post its marker: one that hands off before a shared batch
    # covers the bundle's blocks takes the marker with it (a known gap, README "Bundle markers"). So the
    # split bundle is sent early in an epoch, and sent again only if a handoff came before its marker.
    for _ in range(3):
        wait_for(lambda: l1.eth.block_number % epoch_length <= 1, timeout=30, what="the start of an epoch")
        leader = rpc_call(verifier, "rollup_sequencer")["sequencer"]
        for url in sequencers:
            assert rpc_call(url, "devnet_splitBundles", [True]) is True
        try:
            split = settle_bundle(network, [leg(901, nonce_on(network, 901)), leg(902, nonce_on(network, 902))],
                                  "inclusion")
        finally:
            for url in sequencers:
                rpc_call(url, "devnet_splitBundles", [False])
        assert split["status"] == "included"  # what the dishonest leader claims
        sent_split.add(split["bundleId"])
        try:
            violations = wait_for(lambda split=split: reported(split["bundleId"]), timeout=30,
                                  what="the verifier to report the split bundle")
            break
        except AssertionError:
            if rpc_call(verifier, "rollup_sequencer")["sequencer"] == leader:
                raise  # the leader kept the lead: its marker should have reached L1
    else:
        raise AssertionError("a handoff came before the split bundle's marker three times")
    assert "is not in block" in violations[0]["problems"][0]
    assert all(v["bundleId"] in sent_split for v in  # only split bundles are reported, never the honest one
               rpc_call(verifier, "rollup_syncStatus")["bundleAudit"]["violations"])


def devnet_cli(network: Devnet, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devnet.cli", "--state-dir", str(network.state_dir), *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})


def test_devnet_bundle_send_and_status_from_the_cli(shared: Devnet) -> None:
    network = shared
    for _ in range(3):  # a handoff drops a pending bundle whole: the user sends it again
        n901, n902 = nonce_on(network, 901), nonce_on(network, 902)
        sent = devnet_cli(network, "bundle", "send", "--tx", leg(901, n901), "--tx", leg(902, n902),
                          "--atomicity", "execution", "--wait", "--json")
        if sent.returncode == 0 or "leader changed" not in sent.stdout:
            break
    assert sent.returncode == 0, sent.stdout + sent.stderr
    record = json.loads(sent.stdout)
    assert record["status"] == "included" and set(record["blocks"]) == {"901", "902"}
    shown = devnet_cli(network, "bundle", "status", record["bundleId"])
    assert shown.returncode == 0 and "included" in shown.stdout and "chain 902" in shown.stdout, shown.stdout
    # a leg that would revert: dropped whole, and the command says so with a non-zero exit
    n901, n902 = nonce_on(network, 901), nonce_on(network, 902)
    dropped = devnet_cli(network, "bundle", "send", "--tx", leg(901, n901), "--tx", leg(902, n902, reverts=True),
                         "--atomicity", "execution", "--wait")
    assert dropped.returncode == 1 and "dropped" in dropped.stdout, dropped.stdout + dropped.stderr
    bad = devnet_cli(network, "bundle", "send", "--tx", "0x1234")
    assert bad.returncode != 0 and "bundle refused" in bad.stderr, bad.stderr
    unknown = devnet_cli(network, "bundle", "status", "0x" + "00" * 32)
    assert unknown.returncode != 0 and "no running sequencer node knows bundle" in unknown.stderr


def test_each_chain_derives_from_l1_alone_with_every_sequencer_down(shared: Devnet) -> None:
    """Last in the module: it kills the validators. Chain 902's forced entry lands by derivation alone,
    only in 902's namespace; chain 901's verifier is untouched by it."""
    network = shared
    for name in network.sequencer_names:
        network.processes[name].kill()
    verifier_902 = Web3(HTTPProvider(network.node_url("verifier-0", 902)))
    verifier_901 = Web3(HTTPProvider(network.node_url("verifier-0", 901)))
    sender = ACCOUNTS[6]
    raw = Account.sign_transaction(
        {"type": 2, "chainId": 902, "nonce": 0, "to": ACCOUNTS[8].address, "value": 902, "gas": 21_000,
         "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}, sender.private_key).raw_transaction
    funder = ACCOUNTS[7].private_key  # the same key holds L1 ether on Anvil
    handle = force_include(network.state["l1"]["rpc"], network.state["contracts"]["Inbox"], 902, bytes(raw), funder)
    receipt = handle.wait_included(network.node_url("verifier-0", 902), safe=True, timeout=120)
    assert receipt["status"] in (1, "0x1")
    assert verifier_902.eth.get_transaction_count(sender.address, "safe") == 1
    assert verifier_901.eth.get_transaction_count(sender.address) == 0
