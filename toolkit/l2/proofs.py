"""EIP-1186 Merkle proofs (eth_getProof) from py-evm's state trie at a block."""

from __future__ import annotations

from typing import Any

import rlp
from eth.abc import BlockHeaderAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account
from eth_utils import keccak, to_canonical_address
from trie import HexaryTrie


def account_proof(db: Any, header: BlockHeaderAPI, address: str, slots: list[int]) -> dict[str, Any]:
    """The account's fields, its proof against the header's state root, and each slot's proof."""
    state = HexaryTrie(db, root_hash=header.state_root)
    key = keccak(to_canonical_address(address))
    encoded = state.get(key)
    account = rlp.decode(encoded, sedes=Account) if encoded else Account(0, 0, BLANK_ROOT_HASH, EMPTY_SHA3)
    storage = HexaryTrie(db, root_hash=account.storage_root)
    storage_proofs = []
    for slot in slots:
        slot_key = keccak(slot.to_bytes(32, "big"))
        value = storage.get(slot_key)
        storage_proofs.append({
            "key": slot,
            "value": rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0,
            "proof": [rlp.encode(node) for node in storage.get_proof(slot_key)],
        })
    return {
        "nonce": account.nonce,
        "balance": account.balance,
        "storageHash": bytes(account.storage_root),
        "codeHash": bytes(account.code_hash),
        "accountProof": [rlp.encode(node) for node in state.get_proof(key)],
        "storageProof": storage_proofs,
    }
