"""Mode `shared`: one staked validator set (the pos registry) sequences several L2 chains at once.

One leader per epoch for every chain (`SharedStakingRegistry` draws it whatever the chain id), one
batcher per node posting one L1 transaction for all chains' blocks (`Inbox.postSharedBatch`, see
toolkit/shared_batch.py), attested once by 2/3 of the stake. Each chain keeps its own genesis,
executor, state, RPC, verifier and gateway, and its own `SequencerChanged` events.
"""

from __future__ import annotations

from toolkit.modes.pos import PosMode

MIN_SHARED_CHAINS = 2
MAX_SHARED_CHAINS = 8


class SharedMode(PosMode):
    name = "shared"
    revert_unsupported = "cross-chain bundles and shared batches are not in a node's snapshot yet"
    registry_contract = "SharedStakingRegistry"
    description = "one staked set orders several chains: one leader per epoch, one attested L1 batch for all"
    shares_batches = True

    def check_chain_count(self, count: int) -> str | None:
        if not MIN_SHARED_CHAINS <= count <= MAX_SHARED_CHAINS:
            return (f"mode shared sequences {MIN_SHARED_CHAINS} to {MAX_SHARED_CHAINS} chains at once, not {count} "
                    f"(e.g. --chains 901,902)")
        return None
