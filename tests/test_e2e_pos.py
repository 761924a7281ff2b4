"""Mode pos against real processes: L1 refusals, unbonding, slashing, and failover after a SIGKILL."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from devnet.network import Devnet, rpc_call
from toolkit.accounts import dev_accounts
from toolkit.force_include import force_include
from toolkit.l1.artifacts import load_artifact
from toolkit.l2.signed_block import SignedBlock, sign_block_hash
from toolkit.sequencer.attestation import sign_digest
from toolkit.signing import SigningDomain
from toolkit.testing import (
    SubscriptionCollector,
    fast_config,
    l1_changes,
    raw_receipt,
    safe_number,
    wait_for,
    wait_for_event,
)

ACCOUNTS = dev_accounts(10)
REPORTER = ACCOUNTS[9]


def contracts(network: Devnet) -> tuple[Web3, Any, Any]:
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    registry = l1.eth.contract(
        address=network.state["registry"]["address"], abi=load_artifact("StakingRegistry")["abi"]
    )
    inbox = l1.eth.contract(address=network.state["contracts"]["Inbox"], abi=load_artifact("Inbox")["abi"])
    return l1, registry, inbox


def send(l1: Web3, key: str, call: Any, value: int = 0) -> Any:
    sender = Account.from_key(key).address
    tx = call.build_transaction(
        {
            "from": sender,
            "value": value,
            "gas": 1_000_000,
            "nonce": l1.eth.get_transaction_count(sender, "pending"),
        }
    )
    tx_hash = l1.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction)
    return l1.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)


def error_name(exc: ContractCustomError, contract: Any) -> str:
    for item in contract.abi:
        if item.get("type") == "error":
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            if exc.data[2:10] == Web3.keccak(text=signature)[:4].hex():
                return item["name"]
    return exc.data


def wait_for_slash(network: Devnet, registry: Any, validator: str, from_block: int, kind: int) -> Any:
    """The Slashed event of `validator` since `from_block`, reported by a node that is not the culprit."""
    reporters = {s["address"] for s in network.state["sequencers"]} | {
        n["reporter"] for n in network.state["chains"][0]["nodes"] if n.get("reporter")}
    events = wait_for(lambda: [e["args"] for e in registry.events.Slashed.get_logs(from_block=from_block)
                               if e["args"]["validator"] == validator],
                      timeout=30, what=f"a watchtower to get {validator} slashed")
    slashed = events[0]
    assert slashed["kind"] == kind and slashed["reporter"] in reporters - {validator}, slashed
    return slashed


def leader_node(network: Devnet) -> tuple[str, dict[str, str]]:
    leader = rpc_call(network.node_url("verifier-0"), "rollup_sequencer")["sequencer"]
    for sequencer in network.state["sequencers"]:
        if sequencer["address"].lower() == leader.lower():
            return sequencer["name"], sequencer
    raise AssertionError(f"leader {leader} runs no node")


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    devnet = Devnet(
        fast_config(
            tmp_path_factory.mktemp("pos"), mode="pos", sequencers=4, epoch_length=60, liveness_timeout=6
        )
    )
    devnet.up()
    try:
        yield devnet
    finally:
        devnet.down()


@pytest.mark.slow
def test_l1_refuses_bad_batches(network: Devnet) -> None:
    l1, registry, inbox = contracts(network)
    data = b"\x01\x01batch"
    leader = rpc_call(network.node_url("verifier-0"), "rollup_sequencer")["sequencer"]
    keys = {s["address"]: s["private_key"] for s in network.state["sequencers"]}
    digest = inbox.functions.batchDigest(901, 1, 1, 0, Web3.keccak(data)).call()
    signatures = sorted((sign_digest(key, digest) for key in keys.values()), key=lambda s: int(s[0], 16))
    everyone = b"".join(signature for _, signature in signatures)
    cases = {
        "InsufficientAttestations": (leader, signatures[0][1]),  # 1 of 4 equal stakes
        "MalformedAttestations": (leader, b"".join(sig for _, sig in reversed(signatures))),  # unordered
        "NotSequencer": (next(a for a in keys if a != leader), everyone),
    }
    forged = sign_digest(REPORTER.private_key, digest)[1] + signatures[0][1][:-1] + b"\x1c"
    for expected, (sender, attestations) in cases.items():
        with pytest.raises(ContractCustomError) as error:
            inbox.functions.postBatch(901, 1, 1, 0, data, attestations).estimate_gas({"from": sender})
        assert error_name(error.value, inbox if expected == "NotSequencer" else registry) == expected
    with pytest.raises(ContractCustomError) as error:  # a signature by a non-validator and a tampered one
        inbox.functions.postBatch(901, 1, 1, 0, data, forged).estimate_gas({"from": leader})
    assert error_name(error.value, registry) in ("InsufficientAttestations", "MalformedAttestations")


@pytest.mark.slow
def test_unstake_delay_and_withdraw_once(network: Devnet) -> None:
    l1, registry, _ = contracts(network)
    leader = rpc_call(network.node_url("verifier-0"), "rollup_sequencer")["sequencer"]
    validator = next(s for s in network.state["sequencers"] if s["address"] != leader)
    stake = registry.functions.validators(validator["address"]).call()[0]
    receipt = send(l1, validator["private_key"], registry.functions.requestUnstake())
    withdrawable_at = registry.events.UnstakeRequested().process_receipt(receipt, errors=DISCARD)[0]["args"][
        "withdrawableAt"
    ]
    assert validator["address"] not in registry.functions.activeValidators().call()
    with pytest.raises(ContractCustomError):
        registry.functions.withdraw().estimate_gas({"from": validator["address"]})
    wait_for(lambda: l1.eth.block_number >= withdrawable_at, timeout=30, what="the unbonding delay")
    before = l1.eth.get_balance(validator["address"])
    receipt = send(l1, validator["private_key"], registry.functions.withdraw())
    paid = (
        l1.eth.get_balance(validator["address"]) - before + receipt["gasUsed"] * receipt["effectiveGasPrice"]
    )
    assert paid == stake
    with pytest.raises(ContractCustomError) as error:
        registry.functions.withdraw().estimate_gas({"from": validator["address"]})
    assert error_name(error.value, registry) == "NotWithdrawable"


@pytest.mark.slow
def test_gossip_takes_blocks_only_from_the_leader_l1_names(network: Devnet) -> None:
    """A validly signed block from a validator that is not the leader is refused by a real verifier,
    while the same block from the leader is known: the signer, not just the signature, is checked."""
    name, leader = leader_node(network)
    verifier = network.node_url("verifier-0")
    validators = rpc_call(verifier, "rollup_sequencer")["validators"]
    other = next(s for s in network.state["sequencers"] if s["address"] != leader["address"]
                 and s["address"] in validators)  # one that may sign, but does not lead
    number = wait_for(lambda: rpc_call(verifier, "rollup_syncStatus")["unsafeL2"]["number"] or None,
                      timeout=20, what="an unsafe block at the verifier")
    with urllib.request.urlopen(f"{network.node_url(name)}/p2p/block/{number}", timeout=10) as response:
        served = SignedBlock.from_json(json.load(response))
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    domain = SigningDomain(l1.eth.chain_id, network.state["contracts"]["Inbox"])
    assert served.signer(domain) == leader["address"]
    forged = dataclasses.replace(served, signature=sign_block_hash(
        domain, other["private_key"], served.chain_id, served.number, served.block_hash))
    for block, status, answer in ((forged, 400, "not the leader L1 names for it"), (served, 200, "known")):
        request = urllib.request.Request(f"{verifier}/p2p/block", method="POST",
                                         data=json.dumps({"block": block.to_json()}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                code, reply = response.status, json.load(response)
        except urllib.error.HTTPError as error:
            code, reply = error.code, json.load(error)
        assert code == status and answer in reply.get("reason", reply.get("outcome", "")), reply


@pytest.mark.slow
def test_equivocation_is_slashed_and_unsafe_blocks_dropped(network: Devnet) -> None:
    l1, registry, _ = contracts(network)
    name, culprit = leader_node(network)
    verifier_url = network.node_url("verifier-0")
    start = l1.eth.block_number
    ws_url = verifier_url.replace("http://", "ws://")
    with (
        SubscriptionCollector(ws_url, "newHeads") as heads,
        SubscriptionCollector(ws_url, "sequencerChanged") as relayed,
    ):
        proof = rpc_call(network.admin_url(name), "devnet_equivocate")
        first, second = proof["blocks"]
        assert first["number"] == second["number"] and first["blockHash"] != second["blockHash"]
        unsafe_before = rpc_call(verifier_url, "rollup_syncStatus")["unsafeL2"]
        reorgs_before = rpc_call(verifier_url, "rollup_syncStatus")["reorgs"]
        # The subscriber has seen the unsafe head that the slash is about to drop.
        wait_for_event(
            heads,
            lambda h: int(h["number"], 16) >= unsafe_before["number"],
            timeout=10,
            what="newHeads to announce the unsafe head",
        )
        # No test code submits the evidence: the nodes' watchtowers saw both blocks and report them.
        slashed = wait_for_slash(network, registry, culprit["address"], start, kind=0)
        stake, _, active, jailed = registry.functions.validators(culprit["address"]).call()
        assert (stake, active, jailed) == (0, False, True)
        assert registry.functions.rewards(slashed["reporter"]).call() >= slashed["reward"] > 0
        evidence = [e for n in network.state["chains"][0]["nodes"]
                    for e in (rpc_call(n["rpc"], "rollup_syncStatus")["watchtower"] or [])
                    if n["name"] != name]
        assert any(e["kind"] == "equivocation" and e["validator"] == culprit["address"]
                   and e["number"] == proof["number"] for e in evidence), evidence
        changes = l1_changes(network, start)
        assert changes[-1]["reason"] == "slashed" and changes[-1]["previous"] == culprit["address"]
        # Every node dropped the slashed leader's unsafe blocks and follows the new leader. The
        # verifier drops them as it relays the slash, so once the notice is here the reorg is done.
        wait_for_event(
            relayed,
            lambda n: n["reason"] == "slashed" and n["previous"].lower() == culprit["address"].lower(),
            timeout=20,
            what="the verifier to relay the slash",
        )
        assert rpc_call(verifier_url, "rollup_syncStatus")["reorgs"] > reorgs_before
        wait_for(lambda: leader_node(network)[0] != name, timeout=20, what="the verifier to follow the new leader")

        def unsafe_signers() -> set[str]:
            status = rpc_call(verifier_url, "rollup_syncStatus")
            numbers = range(status["safeL2"]["number"] + 1, status["unsafeL2"]["number"] + 1)
            signatures = [rpc_call(verifier_url, "rollup_getBlockSignature", [hex(n)]) for n in numbers]
            return {s["signer"] for s in signatures if s}

        assert culprit["address"] not in unsafe_signers(), "the verifier kept blocks the slashed leader signed"
        target = rpc_call(verifier_url, "rollup_syncStatus")["unsafeL2"]["number"] + 3
        verifier = Web3(HTTPProvider(verifier_url))
        wait_for(
            lambda: safe_number(verifier) >= target,
            timeout=60,
            what="the chain to go on under the new leader",
        )
    # A newHeads subscriber saw the reorg: a height announced twice, with another block the second time.
    hashes_at: dict[str, set[str]] = {}
    for head in heads.notices:
        hashes_at.setdefault(head["number"], set()).add(head["hash"])
    assert any(len(hashes) > 1 for hashes in hashes_at.values()), "no replaced head was announced"
    with pytest.raises(ContractCustomError) as error:
        registry.functions.withdraw().estimate_gas({"from": culprit["address"]})
    assert error_name(error.value, registry) == "Jailed"


@pytest.mark.slow
def test_censoring_leader_is_slashed(network: Devnet) -> None:
    l1, registry, inbox = contracts(network)
    name, culprit = leader_node(network)
    start = l1.eth.block_number
    rpc_call(network.admin_url(name), "devnet_setIgnoreForced", [True])
    tx = {
        "type": 2,
        "chainId": 901,
        "nonce": 0,
        "to": ACCOUNTS[8].address,
        "value": 5,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
    }
    raw = bytes(Account.sign_transaction(tx, ACCOUNTS[7].private_key).raw_transaction)
    handle = force_include(network.state["l1"]["rpc"], inbox.address, 901, raw, ACCOUNTS[7].private_key)
    assert handle.deadline // 60 == l1.eth.block_number // 60, "the deadline must fall in this leader's epoch"
    handle.wait_included(network.node_url("verifier-0"), safe=True, timeout=60)
    # If derivation forced the entry in, L1 marks it late with the next batch that consumes it.
    late, deadline = wait_for(
        lambda: (r := inbox.functions.lateness(901, handle.index).call())[0] and r,
        timeout=30,
        what="L1 to record the entry as late",
    )
    assert late and deadline == handle.deadline
    # The watchtowers report it; no test code submits the evidence.
    slashed = wait_for_slash(network, registry, culprit["address"], start, kind=1)
    assert slashed["validator"] == culprit["address"]
    with pytest.raises(ContractCustomError) as error:  # a second report of the same evidence is refused
        registry.functions.slashCensorship(901, handle.index).estimate_gas({"from": REPORTER.address})
    assert error_name(error.value, registry) == "AlreadyPunished"
    assert culprit["address"] not in registry.functions.activeValidators().call()


@pytest.mark.slow
def test_leader_killed_mid_epoch_is_skipped_after_the_timeout(tmp_path: Path) -> None:
    network = Devnet(fast_config(tmp_path, mode="pos", sequencers=3, epoch_length=60, liveness_timeout=4))
    network.up()
    try:
        l1, registry, _ = contracts(network)
        gateway = Web3(HTTPProvider(network.gateway_url))
        # The leader is live (it has posted a batch), and L1 itself names it.
        wait_for(
            lambda: safe_number(Web3(HTTPProvider(network.node_url("verifier-0")))) >= 1,
            timeout=30,
            what="a first batch",
        )
        start = l1.eth.block_number
        leader = registry.functions.sequencerFor(901, start).call()
        name, dead = next((s["name"], s) for s in network.state["sequencers"] if s["address"] == leader)
        sender = ACCOUNTS[3]
        accepted: list[str] = []
        nonce = 0

        def submit() -> None:
            nonlocal nonce
            tx = {
                "type": 2,
                "chainId": 901,
                "nonce": nonce,
                "to": ACCOUNTS[4].address,
                "value": 1,
                "gas": 21_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 1,
            }
            raw = "0x" + bytes(Account.sign_transaction(tx, sender.private_key).raw_transaction).hex()
            reply = gateway.provider.make_request("eth_sendRawTransaction", [raw])
            if "result" in reply:
                accepted.append(reply["result"])
                nonce += 1

        for _ in range(5):
            submit()
        network.processes[name].kill()
        killed_at = time.monotonic()
        changes = wait_for(
            lambda: [c for c in l1_changes(network, start) if c["reason"] == "timeout"],
            timeout=40,
            what="a timeout handoff",
        )
        assert changes[0]["previous"] == dead["address"]
        failover_seconds = time.monotonic() - killed_at
        for _ in range(5):
            submit()
            time.sleep(0.2)
        receipts = wait_for(
            lambda: (r := [raw_receipt(gateway, h) for h in accepted]) and all(r) and r,
            timeout=60,
            what="every accepted transfer to land after the failover",
        )
        assert all(int(r["status"], 16) == 1 for r in receipts) and len(accepted) == nonce
        assert gateway.eth.get_transaction_count(sender.address) == nonce
        # The killed node, restarted, catches up from L1 and gossip.
        network.start_node(name)
        network.wait_node_ready(name)
        head = safe_number(Web3(HTTPProvider(network.node_url("verifier-0"))))
        restarted = Web3(HTTPProvider(network.node_url(name)))
        wait_for(
            lambda: restarted.eth.block_number >= head, timeout=30, what="the restarted node to catch up"
        )
        assert restarted.eth.get_block(head)["hash"] == gateway.eth.get_block(head)["hash"]
        print(f"failover after SIGKILL: {failover_seconds:.1f}s")
    finally:
        network.down()
