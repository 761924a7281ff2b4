"""Deploy the rollup contracts from the committed artifacts to the L1."""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from eth_account import Account
from eth_utils import keccak, to_bytes
from web3 import HTTPProvider, Web3

from toolkit.l1.artifacts import load_artifact

RECEIPT_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Deployment:
    registry: str
    inbox: str
    block: int  # L1 block of the last deployment transaction: derivation starts here


def deploy_contracts(
    l1_rpc_url: str,
    admin_key: str,
    sequencers: dict[int, str],
    epoch_length: int,
    inclusion_window: int = 10,
    forced_inclusion_fee: int = 10**15,
) -> Deployment:
    """Deploy SequencerRegistry and Inbox, and name each chain's sequencer (mode `single`)."""
    w3 = Web3(HTTPProvider(l1_rpc_url, request_kwargs={"timeout": 10}))
    admin = Account.from_key(admin_key)
    nonce = w3.eth.get_transaction_count(admin.address, "pending")
    chain_id = w3.eth.chain_id

    def send(tx: dict) -> bytes:
        nonlocal nonce
        tx = {**tx, "from": admin.address, "nonce": nonce, "chainId": chain_id}
        tx.setdefault("gas", 5_000_000)
        nonce += 1
        return w3.eth.send_raw_transaction(Account.sign_transaction(tx, admin_key).raw_transaction)

    registry_artifact = load_artifact("SequencerRegistry")
    inbox_artifact = load_artifact("Inbox")
    registry_factory = w3.eth.contract(abi=registry_artifact["abi"], bytecode=registry_artifact["bytecode"])
    inbox_factory = w3.eth.contract(abi=inbox_artifact["abi"], bytecode=inbox_artifact["bytecode"])
    registry_address = Web3.to_checksum_address(_create_address(admin.address, nonce))
    hashes = [send(registry_factory.constructor(admin.address, epoch_length).build_transaction({"gas": 3_000_000}))]
    inbox_address = Web3.to_checksum_address(_create_address(admin.address, nonce))
    hashes.append(send(inbox_factory.constructor(registry_address, inclusion_window, forced_inclusion_fee).build_transaction({"gas": 3_000_000})))
    registry = w3.eth.contract(address=registry_address, abi=registry_artifact["abi"])
    for chain, sequencer in sequencers.items():
        hashes.append(send(registry.functions.setSequencer(chain, sequencer).build_transaction({"gas": 200_000})))
    last_block = 0
    for tx_hash in hashes:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_SECONDS, poll_latency=0.1)
        if receipt["status"] != 1:
            raise RuntimeError(f"deployment transaction 0x{bytes(tx_hash).hex()} reverted")
        last_block = max(last_block, int(receipt["blockNumber"]))
    return Deployment(registry=registry_address, inbox=inbox_address, block=last_block)


def _create_address(sender: str, nonce: int) -> str:
    return "0x" + keccak(rlp.encode([to_bytes(hexstr=sender), nonce]))[12:].hex()
