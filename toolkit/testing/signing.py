"""Block signatures for tests, made in one place.

If the signing digest changes (e.g. gains a domain), adapt `sign_block` and every test follows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from toolkit.l2.executor import ExecutedBlock
from toolkit.l2.signed_block import SignedBlock, sign_block_hash
from toolkit.signing import SigningDomain
from toolkit.testing.l2 import CHAIN_ID

# the signing domain of in-process tests (an L1 chain id and an Inbox address no devnet uses)
DOMAIN = SigningDomain(31337, "0x" + "11" * 20)


def sign_block(
    executed: ExecutedBlock, private_key: str, chain_id: int = CHAIN_ID, **overrides: Any
) -> SignedBlock:
    """`executed` as a leader gossips it, signed by `private_key`.

    `overrides` replace SignedBlock fields (number, block_hash, raw_transactions, ...) before
    signing, so a test can make a correctly signed block that lies about its content.
    """
    unsigned = SignedBlock.create(DOMAIN, chain_id, executed, private_key)
    unsigned = replace(unsigned, **overrides)
    signature = sign_block_hash(DOMAIN, private_key, unsigned.chain_id, unsigned.number, unsigned.block_hash)
    return replace(unsigned, signature=signature)
