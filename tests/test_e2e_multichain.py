"""Two L2 chains (901, 902) in mode pos: one node process per validator serves both, each chain has
its own gateway, verifier, batches and leader schedule, and each verifier derives the leaders' hashes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet, rpc_call
from toolkit.accounts import dev_accounts
from toolkit.testing import fast_config, l1_changes, raw_receipt, safe_number, wait_for
from toolkit.testing.running import running_devnet

CHAINS = (901, 902)
ACCOUNTS = dev_accounts(10)


@pytest.fixture(scope="module")
def two_chains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    config = fast_config(tmp_path_factory.mktemp("multichain"), mode="pos", sequencers=3, epoch_length=4,
                         liveness_timeout=6, chains=CHAINS)
    with running_devnet(config) as network:
        yield network


def transfer(chain_id: int, nonce: int, value: int) -> str:
    tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "to": ACCOUNTS[8].address, "value": value,
          "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
    return "0x" + bytes(Account.sign_transaction(tx, ACCOUNTS[4].private_key).raw_transaction).hex()


def test_state_lists_each_chain_with_its_own_gateway_and_nodes(two_chains: Devnet) -> None:
    chains = two_chains.state["chains"]
    assert [c["chain_id"] for c in chains] == list(CHAINS)
    assert len({c["rpc"] for c in chains}) == 2
    for chain in chains:
        assert Web3(HTTPProvider(chain["rpc"])).eth.chain_id == chain["chain_id"]
        assert {n["name"] for n in chain["nodes"]} == {"sequencer-0", "sequencer-1", "sequencer-2", "verifier-0"}
        for node in chain["nodes"]:
            assert rpc_call(node["rpc"], "eth_chainId") == hex(chain["chain_id"])
    # one process per node serves both chains
    pids = {n["name"]: n["pid"] for n in chains[0]["nodes"]}
    assert pids == {n["name"]: n["pid"] for n in chains[1]["nodes"]}


@pytest.mark.slow
def test_clients_on_both_chains_land_and_verifiers_derive_the_leaders_blocks(two_chains: Devnet) -> None:
    network = two_chains
    start = Web3(HTTPProvider(network.state["l1"]["rpc"])).eth.block_number
    gateways = {c: Web3(HTTPProvider(network.gateway_urls[c])) for c in CHAINS}
    accepted: dict[int, list[str]] = {c: [] for c in CHAINS}
    for nonce in range(6):  # the same sender on both chains: separate nonces, separate state
        for chain_id, gateway in gateways.items():
            reply = gateway.provider.make_request("eth_sendRawTransaction", [transfer(chain_id, nonce, chain_id)])
            assert "result" in reply, reply
            accepted[chain_id].append(reply["result"])
    receipts = {
        c: wait_for(lambda c=c: (r := [raw_receipt(gateways[c], h) for h in accepted[c]]) and all(r) and r,
                    timeout=60, what=f"the transfers on chain {c} to land")
        for c in CHAINS
    }
    last = {c: max(int(r["blockNumber"], 16) for r in receipts[c]) for c in CHAINS}
    for chain_id in CHAINS:
        verifier = Web3(HTTPProvider(network.node_url("verifier-0", chain_id)))
        wait_for(lambda v=verifier, c=chain_id: safe_number(v) >= last[c], timeout=60,
                 what=f"chain {chain_id}'s verifier to derive the transfers from L1")
        safe = safe_number(verifier)
        for name in ("sequencer-0", "sequencer-1", "sequencer-2"):
            node = Web3(HTTPProvider(network.node_url(name, chain_id)))
            wait_for(lambda n=node, s=safe: n.eth.block_number >= s, timeout=30, what=f"{name} to reach block {safe}")
            for number in range(1, safe + 1):
                assert node.eth.get_block(number)["hash"] == verifier.eth.get_block(number)["hash"], (chain_id, number)
        assert gateways[chain_id].eth.get_transaction_count(ACCOUNTS[4].address) == 6
    # the chains are separate: other balances moved on each
    assert gateways[901].eth.get_balance(ACCOUNTS[8].address) != gateways[902].eth.get_balance(ACCOUNTS[8].address)
    # each chain has its own leader schedule on L1: rotations recorded for both chain ids
    changes = wait_for(lambda: (ch := l1_changes(network, start, chain_id=None))
                       and {c["chainId"] for c in ch} >= set(CHAINS) and ch,
                       timeout=30, what="handoffs of both chains on L1")
    assert {c["chainId"] for c in changes} >= set(CHAINS)
