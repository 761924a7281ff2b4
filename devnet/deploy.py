"""Deploy the rollup contracts from the committed artifacts to the L1, for each sequencing mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rlp
from eth_account import Account
from eth_utils import keccak, to_bytes
from web3 import HTTPProvider, Web3

from toolkit.l1.artifacts import load_artifact
from toolkit.modes import RegistrySettings, mode_named

RECEIPT_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Deployment:
    registry: str
    registry_contract: str
    inbox: str
    block: int  # L1 block of the last deployment transaction: derivation starts here


def deploy_contracts(
    l1_rpc_url: str,
    admin_key: str,
    mode: str,
    chain_ids: int | list[int],
    operator_keys: list[str],
    settings: RegistrySettings,
    inclusion_window: int = 10,
    forced_inclusion_fee: int = 10**15,
    funding: dict[str, int] | None = None,
    mine_now: bool = False,
) -> Deployment:
    """Deploy the mode's registry and the Inbox; name (single), seat (committee) or stake (pos) operators.
    `funding` (address -> wei) is first sent from the admin key, and mined, so operators can stake
    on an L1 where nobody can mint their balance (an existing L1 instead of the devnet's Anvil).
    `mine_now` (the devnet's own Anvil): mine the deployment at once instead of at the next block time."""
    w3 = Web3(HTTPProvider(l1_rpc_url, request_kwargs={"timeout": 10}))
    l1_chain_id = w3.eth.chain_id
    nonces: dict[str, int] = {}
    hashes: list[bytes] = []

    def send(key: str, tx: dict[str, Any]) -> None:
        sender = Account.from_key(key).address
        if sender not in nonces:
            nonces[sender] = w3.eth.get_transaction_count(sender, "pending")
        tx = {**tx, "from": sender, "nonce": nonces[sender], "chainId": l1_chain_id}
        tx.setdefault("gas", 5_000_000)
        nonces[sender] += 1
        hashes.append(w3.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction))

    admin = Account.from_key(admin_key).address
    if funding:
        price = w3.eth.gas_price
        for address, wei in funding.items():
            send(admin_key, {"to": Web3.to_checksum_address(address), "value": wei, "gas": 21_000, "gasPrice": price})
        _wait_all(w3, hashes, "funding")
        hashes.clear()
    operators = [Account.from_key(key).address for key in operator_keys]
    sequencing = mode_named(mode)
    registry_name = sequencing.registry_contract
    registry_artifact = load_artifact(registry_name)
    factory = w3.eth.contract(abi=registry_artifact["abi"], bytecode=registry_artifact["bytecode"])
    constructor = sequencing.registry_constructor(factory, admin, operators, settings)
    registry_address = _create_address(admin, nonces[admin] if admin in nonces
                                       else w3.eth.get_transaction_count(admin, "pending"))
    send(admin_key, constructor.build_transaction({"gas": 5_000_000}))
    inbox_address = _create_address(admin, nonces[admin])
    inbox_artifact = load_artifact("Inbox")
    inbox_factory = w3.eth.contract(abi=inbox_artifact["abi"], bytecode=inbox_artifact["bytecode"])
    send(admin_key, inbox_factory.constructor(registry_address, inclusion_window, forced_inclusion_fee)
         .build_transaction({"gas": 5_000_000}))
    registry = w3.eth.contract(address=registry_address, abi=registry_artifact["abi"])
    chain_list = [chain_ids] if isinstance(chain_ids, int) else list(chain_ids)
    sequencing.setup_registry(send, registry, inbox_address, chain_list, admin_key, operator_keys, settings)
    if mine_now:
        w3.provider.make_request("evm_mine", [])
    last_block = _wait_all(w3, hashes, "deployment")
    return Deployment(registry=registry_address, registry_contract=registry_name, inbox=inbox_address, block=last_block)


def _wait_all(w3: Web3, hashes: list[bytes], what: str) -> int:
    """Wait for every transaction; the last L1 block they landed in. A revert is an error."""
    last_block = 0
    for tx_hash in hashes:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_SECONDS, poll_latency=0.1)
        if receipt["status"] != 1:
            raise RuntimeError(f"{what} transaction 0x{bytes(tx_hash).hex()} reverted")
        last_block = max(last_block, int(receipt["blockNumber"]))
    return last_block


def _create_address(sender: str, nonce: int) -> str:
    return Web3.to_checksum_address("0x" + keccak(rlp.encode([to_bytes(hexstr=sender), nonce]))[12:].hex())
