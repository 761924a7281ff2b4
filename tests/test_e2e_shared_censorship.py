"""Mode shared: the shared set censors one chain (issue 12's first trade-off, against real processes).

The leader censors a sender on chain 902 only and ignores 902's forced queue. The same sender's
transaction on 901 lands at once; on 902 it waits in the mempool; queued in the Inbox it still lands
(derivation forces it in at its deadline); L1 marks the entry late, and the watchtowers get the
censoring leader slashed, after which chain 902 goes on under another leader.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet, rpc_call
from toolkit.accounts import dev_accounts
from toolkit.force_include import force_include
from toolkit.l1.artifacts import load_artifact
from toolkit.testing import fast_config, raw_receipt, wait_for
from toolkit.testing.running import running_devnet

CHAINS = (901, 902)
ACCOUNTS = dev_accounts(10)
SENDER = ACCOUNTS[7]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    # A censoring leader whose batch L1 refuses (ForcedTxOverdue) steps aside: L1 records the entry as
    # late when the next leader's batch consumes it, after the liveness timeout (12 L1 blocks here).
    config = fast_config(tmp_path_factory.mktemp("shared-censor"), mode="shared", sequencers=3, epoch_length=60,
                         liveness_timeout=12, chains=CHAINS)
    with running_devnet(config) as devnet:
        yield devnet


def signed(chain_id: int, nonce: int) -> bytes:
    tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "to": ACCOUNTS[8].address, "value": 7, "gas": 21_000,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
    return bytes(Account.sign_transaction(tx, SENDER.private_key).raw_transaction)


def receipt_of(url: str, tx_hash: str) -> dict | None:
    return raw_receipt(Web3(HTTPProvider(url)), tx_hash)


def block_number(url: str) -> int:
    return int(rpc_call(url, "eth_blockNumber"), 16)


@pytest.mark.slow
def test_a_leader_censoring_one_chain_is_bypassed_through_l1_and_slashed(network: Devnet) -> None:
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    inbox = l1.eth.contract(address=network.state["contracts"]["Inbox"], abi=load_artifact("Inbox")["abi"])
    registry = l1.eth.contract(address=network.state["registry"]["address"],
                               abi=load_artifact(network.state["registry"]["contract"])["abi"])
    gateways = {chain["chain_id"]: chain["rpc"] for chain in network.state["chains"]}
    verifier = network.node_url("verifier-0", 902)
    leader = rpc_call(verifier, "rollup_sequencer")["sequencer"]
    name = next(s["name"] for s in network.state["sequencers"] if s["address"] == leader)
    start = l1.eth.block_number
    rpc_call(network.admin_url(name, 902), "devnet_setCensored", [[SENDER.address]])
    rpc_call(network.admin_url(name, 902), "devnet_setIgnoreForced", [True])

    # chain 901 is not censored: the sender's transaction there lands
    on_901 = rpc_call(gateways[901], "eth_sendRawTransaction", ["0x" + signed(901, 0).hex()])
    wait_for(lambda: receipt_of(gateways[901], on_901), timeout=30, what="the 901 transaction to land")
    # on 902 the leader leaves it out, block after block
    raw = signed(902, 0)
    on_902 = rpc_call(gateways[902], "eth_sendRawTransaction", ["0x" + raw.hex()])
    target = block_number(gateways[902]) + 3
    wait_for(lambda: block_number(gateways[902]) >= target, timeout=30, what="three more 902 blocks")
    assert receipt_of(gateways[902], on_902) is None, "the censoring leader included it"

    # the same signed transaction through L1 lands anyway, and L1 marks the entry late
    handle = force_include(network.state["l1"]["rpc"], inbox.address, 902, raw, SENDER.private_key)
    assert handle.deadline // 60 == l1.eth.block_number // 60, "the deadline must fall in this leader's epoch"
    receipt = handle.wait_included(verifier, safe=True, timeout=60)
    assert receipt["transactionHash"] == on_902 and int(receipt["status"], 16) == 1
    wait_for(lambda: inbox.functions.lateness(902, handle.index).call()[0], timeout=90,
             what="L1 to record the 902 entry as late")

    # the watchtowers (no test code) get the censoring leader slashed, and 902 goes on without it
    slashed = wait_for(lambda: [e["args"] for e in registry.events.Slashed.get_logs(from_block=start)
                                if e["args"]["validator"] == leader], timeout=30, what="the censor to be slashed")
    assert slashed[0]["kind"] == 1 and slashed[0]["reporter"] != leader
    assert leader not in registry.functions.activeValidators().call()
    wait_for(lambda: (rpc_call(verifier, "rollup_sequencer")["sequencer"] or leader).lower() != leader.lower(),
             timeout=60, what="chain 902 to name another leader")
    after = rpc_call(gateways[902], "eth_sendRawTransaction", ["0x" + signed(902, 1).hex()])
    wait_for(lambda: receipt_of(gateways[902], after), timeout=60, what="a 902 transaction under the new leader")
