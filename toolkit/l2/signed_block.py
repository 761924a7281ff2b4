"""A sequencer's signed L2 block: what gossip carries and what an equivocation proof is made of.

The signature is over the domain-separated digest of toolkit.signing.block_signing_digest
(L1 chain id, Inbox, chain id, number, block hash), signed as a raw digest (no EIP-191 prefix),
so a contract can check it with a plain ecrecover and a signature is evidence on one devnet only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account

from toolkit.l2.executor import BlockAttributes, ExecutedBlock
from toolkit.signing import SigningDomain, block_signing_digest


def sign_block_hash(domain: SigningDomain, private_key: str, chain_id: int, number: int, block_hash: bytes) -> bytes:
    signed = Account.unsafe_sign_hash(block_signing_digest(domain, chain_id, number, block_hash), private_key)
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def recover_block_signer(domain: SigningDomain, chain_id: int, number: int, block_hash: bytes, signature: bytes) -> str:
    digest = block_signing_digest(domain, chain_id, number, block_hash)
    return Account._recover_hash(digest, signature=signature)


@dataclass(frozen=True)
class SignedBlock:
    chain_id: int
    number: int
    parent_hash: bytes
    block_hash: bytes
    attributes: BlockAttributes
    raw_transactions: tuple[bytes, ...]
    signature: bytes

    @classmethod
    def create(cls, domain: SigningDomain, chain_id: int, executed: ExecutedBlock, private_key: str) -> SignedBlock:
        return cls(
            chain_id=chain_id,
            number=executed.number,
            parent_hash=bytes(executed.block.header.parent_hash),
            block_hash=executed.hash,
            attributes=executed.attributes,
            raw_transactions=executed.raw_transactions,
            signature=sign_block_hash(domain, private_key, chain_id, executed.number, executed.hash),
        )

    def signer(self, domain: SigningDomain) -> str:
        return recover_block_signer(domain, self.chain_id, self.number, self.block_hash, self.signature)

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "number": self.number,
            "parentHash": "0x" + self.parent_hash.hex(),
            "blockHash": "0x" + self.block_hash.hex(),
            "timestamp": self.attributes.timestamp,
            "l1OriginNumber": self.attributes.l1_origin_number,
            "l1OriginHash": "0x" + self.attributes.l1_origin_hash.hex(),
            "forcedStart": self.attributes.forced_start,
            "forcedEnd": self.attributes.forced_end,
            "transactions": ["0x" + raw.hex() for raw in self.raw_transactions],
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedBlock:
        def hexbytes(value: str) -> bytes:
            return bytes.fromhex(value.removeprefix("0x"))

        return cls(
            chain_id=int(data["chainId"]),
            number=int(data["number"]),
            parent_hash=hexbytes(data["parentHash"]),
            block_hash=hexbytes(data["blockHash"]),
            attributes=BlockAttributes(
                timestamp=int(data["timestamp"]),
                l1_origin_number=int(data["l1OriginNumber"]),
                l1_origin_hash=hexbytes(data["l1OriginHash"]),
                forced_start=int(data.get("forcedStart", 0)),
                forced_end=int(data.get("forcedEnd", 0)),
            ),
            raw_transactions=tuple(hexbytes(raw) for raw in data["transactions"]),
            signature=hexbytes(data["signature"]),
        )
