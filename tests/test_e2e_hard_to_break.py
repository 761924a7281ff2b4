"""One transaction or one request must never halt a chain or kill a process (issue 9), against the
session's real devnet: Anvil, the Inbox, sequencer, verifier and gateway processes."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.force_include import force_include
from toolkit.l2.transactions import MAX_INITCODE_SIZE
from toolkit.testing import wait_for

ACCOUNTS = dev_accounts(10)
USER = ACCOUNTS[9]  # only receives in the other session tests: its nonces are ours


def signed(nonce: int, **fields: Any) -> bytes:
    tx = {"type": 2, "chainId": 901, "nonce": nonce, "to": ACCOUNTS[8].address, "value": 1, "gas": 21_000,
          "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, **fields}
    return bytes(Account.sign_transaction(tx, USER.private_key).raw_transaction)


def rpc(url: str, method: str, *params: Any) -> dict[str, Any]:
    return Web3(HTTPProvider(url, request_kwargs={"timeout": 30})).provider.make_request(method, list(params))


def test_poison_init_code_through_the_pool_and_force_inclusion_never_halts_the_chain(devnet: Devnet) -> None:
    gateway, sequencer = devnet.gateway_url, devnet.node_url("sequencer-0")
    verifier = devnet.node_url("verifier-0")
    nonce = Web3(HTTPProvider(gateway)).eth.get_transaction_count(USER.address)
    poison = signed(nonce, to=None, data=b"\0" * (MAX_INITCODE_SIZE + 1), gas=15_000_000)
    for url in (gateway, sequencer, verifier):
        reply = rpc(url, "eth_sendRawTransaction", "0x" + poison.hex())
        assert reply["error"]["message"] == "max initcode size exceeded: code size 49153, limit 49152", reply
    assert rpc(sequencer, "eth_sendRawTransaction", "0x" + signed(2**64 - 1).hex())["error"]["message"] == (
        "nonce has max value: nonce 18446744073709551615"
    )

    state = devnet.state
    handle = force_include(state["l1"]["rpc"], state["contracts"]["Inbox"], 901, poison, USER.private_key)

    def skipped_on(url: str) -> dict[str, Any] | None:
        entry = next((e for e in rpc(url, "rollup_forcedQueue")["result"] if e["index"] == handle.index), None)
        return entry if entry and entry["status"] == "skipped" and entry["safe"] else None

    on_sequencer = wait_for(lambda: skipped_on(sequencer), timeout=90, what="the poison entry skipped and safe")
    on_verifier = wait_for(lambda: skipped_on(verifier), timeout=90, what="the verifier to skip it too")
    assert on_sequencer["reason"] == on_verifier["reason"] == (
        "max initcode size exceeded: code size 49153, limit 49152"
    )
    number = on_sequencer["l2Block"]
    assert on_verifier["l2Block"] == number
    assert (rpc(sequencer, "eth_getBlockByNumber", hex(number), False)["result"]["hash"]
            == rpc(verifier, "eth_getBlockByNumber", hex(number), False)["result"]["hash"])

    # the chain goes on: an ordinary transaction of the same sender lands and is derived by the verifier
    tx_hash = Web3(HTTPProvider(gateway)).eth.send_raw_transaction(signed(nonce))
    receipt = wait_for(lambda: rpc(verifier, "eth_getTransactionReceipt", tx_hash.to_0x_hex()).get("result"),
                       timeout=90, what="a later transaction derived by the verifier")
    assert int(receipt["status"], 16) == 1 and int(receipt["blockNumber"], 16) > number
    for url in (sequencer, verifier):
        assert rpc(url, "rollup_syncStatus")["result"]["stalled"] == []
