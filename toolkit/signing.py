"""Domain-separated digests that sequencers sign: L2 blocks and batch attestations.

Every devnet uses the same keys and the same L2 chain id, so both digests start with the
deployment's domain (the L1 chain id and the address of the Inbox): a signature made for one
devnet is no evidence, and no attestation, on another. Both are raw digests (no EIP-191 prefix),
signed as 65-byte ``r || s || v`` and checked on L1 with a plain ``ecrecover``:

- block: ``keccak256(abi.encode(uint256 l1ChainId, address inbox, uint256 chainId, uint256 number,
  bytes32 blockHash))``, as ``EpochRegistry.blockSigningDigest`` (inbox = ``registry.inbox()``);
- batch: ``keccak256(abi.encode(uint256 l1ChainId, address inbox, uint256 chainId, uint64 firstL2Block,
  uint64 lastL2Block, uint64 forcedEnd, bytes32 keccak256(data)))``, as ``Inbox.batchDigest``.

The functions here are pure: they neither read the chain nor sign.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode
from eth_utils import is_hex_address, keccak, to_checksum_address

UINT256_MAX = 2**256 - 1
UINT64_MAX = 2**64 - 1
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class SigningDomain:
    """What makes a signature valid on one deployment only.

    ``l1_chain_id`` is the L1's ``block.chainid`` (``eth_chainId``); ``inbox`` is the Inbox address
    (any case; stored checksummed). For block signatures it is the Inbox the registry is bound to.
    """

    l1_chain_id: int
    inbox: str

    def __post_init__(self) -> None:
        _check_uint("l1_chain_id", self.l1_chain_id, UINT256_MAX)
        if not isinstance(self.inbox, str) or not is_hex_address(self.inbox):
            raise ValueError(f"inbox must be a 0x-prefixed 20-byte hex address, got {self.inbox!r}")
        if self.inbox.lower() == ZERO_ADDRESS:
            raise ValueError("inbox must not be the zero address (the registry has no Inbox yet)")
        object.__setattr__(self, "inbox", to_checksum_address(self.inbox))


def block_signing_digest(domain: SigningDomain, chain_id: int, number: int, block_hash: bytes) -> bytes:
    """The 32-byte digest a sequencer signs for L2 block ``number`` of ``chain_id`` with hash ``block_hash``.

    Equals ``EpochRegistry.blockSigningDigest(chainId, number, blockHash)`` on the deployment
    ``domain`` describes, which is what ``StakingRegistry.slashEquivocation`` recovers signers from.
    """
    _check_uint("chain_id", chain_id, UINT256_MAX)
    _check_uint("number", number, UINT256_MAX)
    _check_bytes32("block_hash", block_hash)
    return keccak(
        encode(
            ["uint256", "address", "uint256", "uint256", "bytes32"],
            [domain.l1_chain_id, domain.inbox, chain_id, number, bytes(block_hash)],
        )
    )


def batch_digest(
    domain: SigningDomain, chain_id: int, first: int, last: int, forced_end: int, data: bytes
) -> bytes:
    """The 32-byte digest validators attest to for a batch of L2 blocks ``first..last``.

    ``data`` is the batch as posted (``Inbox.postBatch``'s ``data``); it is hashed here. Equals
    ``Inbox.batchDigest(chainId, first, last, forcedEnd, keccak256(data))`` on the Inbox ``domain`` names.
    """
    _check_uint("chain_id", chain_id, UINT256_MAX)
    _check_uint("first", first, UINT64_MAX)
    _check_uint("last", last, UINT64_MAX)
    _check_uint("forced_end", forced_end, UINT64_MAX)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    return keccak(
        encode(
            ["uint256", "address", "uint256", "uint64", "uint64", "uint64", "bytes32"],
            [domain.l1_chain_id, domain.inbox, chain_id, first, last, forced_end, keccak(bytes(data))],
        )
    )


def _check_uint(name: str, value: int, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise ValueError(f"{name} must be in [0, {maximum}], got {value}")


def _check_bytes32(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != 32:  # eth_abi would right-pad a short value silently
        raise ValueError(f"{name} must be 32 bytes, got {len(value)}")
