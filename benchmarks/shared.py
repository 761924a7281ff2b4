"""L1 cost of mode shared: gas per L2 block when 1, 2, 4 and 8 chains post in one shared batch,
beside the same blocks posted as one batch per chain (the reference), in the same run.

    .venv/bin/python benchmarks/shared.py [--chains 1,2,4,8] [--blocks 4] [--transfers 5] [--validators 3]

One Anvil, one `SharedStakingRegistry` + `Inbox` (mode shared, every validator attests). For N chains,
each chain has the same number of L2 blocks of real signed transfers, encoded as the batcher does
(toolkit/batch.py, zlib). Shared: one `postSharedBatch` carrying N segments, attested once.
Reference: N `postBatch` transactions, each attested by every validator. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import signed_transfers, with_anvil  # noqa: E402
from devnet.deploy import RegistrySettings, deploy_contracts  # noqa: E402
from devnet.network import rpc_call  # noqa: E402
from toolkit.accounts import dev_accounts  # noqa: E402
from toolkit.batch import Batch, BatchBlock, encode_batch  # noqa: E402
from toolkit.l1.artifacts import load_artifact  # noqa: E402
from toolkit.sequencer.attestation import sign_digest  # noqa: E402
from toolkit.shared_batch import Segment, segments_hash, shared_batch_digest  # noqa: E402
from toolkit.signing import SigningDomain, batch_digest  # noqa: E402

FIRST_CHAIN = 901


def chain_batch(chain_id: int, blocks: int, transfers: int) -> bytes:
    """`blocks` L2 blocks of `transfers` signed transfers each, as the batcher encodes them."""
    raws = signed_transfers(blocks * transfers, chain_id)
    return encode_batch(Batch(chain_id, 1, b"\0" * 32, tuple(
        BatchBlock(1, 1 + b, 0, 0, tuple(raws[b * transfers:(b + 1) * transfers])) for b in range(blocks)
    )))


def attest(keys: list[str], digest: bytes) -> bytes:
    signed = sorted((sign_digest(key, digest) for key in keys), key=lambda s: int(s[0], 16))
    return b"".join(signature for _, signature in signed)


def measure(url: str, chain_counts: list[int], blocks: int, transfers: int, validators: int) -> dict[int, tuple[int, int]]:
    """For each N: (gas of one shared batch, total gas of N single-chain batches)."""
    rpc_call(url, "evm_setAutomine", [True])
    keys = [a.private_key for a in dev_accounts(validators + 1)]
    for key in keys:
        rpc_call(url, "anvil_setBalance", [Account.from_key(key).address, hex(100 * 10**18)])
    admin, validator_keys = keys[0], keys[1:]
    chain_ids = [FIRST_CHAIN + i for i in range(max(chain_counts))]
    deployment = deploy_contracts(url, admin, "shared", chain_ids, validator_keys,
                                  RegistrySettings(epoch_length=100_000, liveness_timeout=100_000))
    w3 = Web3(HTTPProvider(url))
    inbox = w3.eth.contract(address=deployment.inbox, abi=load_artifact("Inbox")["abi"])
    registry = w3.eth.contract(address=deployment.registry, abi=load_artifact(deployment.registry_contract)["abi"])
    domain = SigningDomain(w3.eth.chain_id, deployment.inbox)
    leader = registry.functions.sequencerFor(FIRST_CHAIN, w3.eth.block_number + 1).call()
    leader_key = next(key for key in validator_keys if Account.from_key(key).address == leader)
    datas = {chain_id: chain_batch(chain_id, blocks, transfers) for chain_id in chain_ids}

    def send(call: Any) -> int:
        tx = call.build_transaction({"from": leader, "nonce": w3.eth.get_transaction_count(leader), "gas": 30_000_000})
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(Account.sign_transaction(tx, leader_key).raw_transaction))
        if receipt["status"] != 1:
            raise RuntimeError("a benchmark batch reverted on L1")
        return int(receipt["gasUsed"])

    # steady state: the first batch of a chain pays for starting its schedule, so warm every chain up
    for chain_id in chain_ids:
        data = datas[chain_id]
        send(inbox.functions.postBatch(chain_id, 1, blocks, 0, data,
                                       attest(validator_keys, batch_digest(domain, chain_id, 1, blocks, 0, data))))
    # and the first shared batch pays for starting the shared-batch counter
    warm = [Segment.for_data(c, 1, blocks, 0, datas[c]) for c in chain_ids]
    send(inbox.functions.postSharedBatch([s.as_tuple() for s in warm], [datas[c] for c in chain_ids],
                                         attest(validator_keys, shared_batch_digest(domain, segments_hash(warm)))))
    results = {}
    for count in chain_counts:
        chosen = chain_ids[:count]
        segments = [Segment.for_data(c, 1, blocks, 0, datas[c]) for c in chosen]
        digest = shared_batch_digest(domain, segments_hash(segments))
        shared_gas = send(inbox.functions.postSharedBatch([s.as_tuple() for s in segments],
                                                          [datas[c] for c in chosen], attest(validator_keys, digest)))
        separate_gas = sum(
            send(inbox.functions.postBatch(
                c, 1, blocks, 0, datas[c], attest(validator_keys, batch_digest(domain, c, 1, blocks, 0, datas[c]))))
            for c in chosen
        )
        results[count] = (shared_gas, separate_gas)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chains", default="1,2,4,8", help="chain counts to measure, comma-separated (1..8)")
    parser.add_argument("--blocks", type=int, default=4, help="L2 blocks per chain per batch")
    parser.add_argument("--transfers", type=int, default=5, help="transfers per L2 block")
    parser.add_argument("--validators", type=int, default=3)
    args = parser.parse_args()
    counts = [int(c) for c in args.chains.split(",")]
    if not all(1 <= c <= 8 for c in counts):
        parser.error("--chains takes counts between 1 and 8")
    results = with_anvil(lambda url: measure(url, counts, args.blocks, args.transfers, args.validators))
    print(f"L1 gas per L2 block ({args.blocks} blocks of {args.transfers} transfers per chain, "
          f"{args.validators} attestations)")
    print("  chains   one batch per chain (reference)   shared batch   ratio shared / reference")
    for count in counts:
        shared_gas, separate_gas = results[count]
        total_blocks = count * args.blocks
        print(f"  {count:6d}   {separate_gas / total_blocks:31,.0f}   {shared_gas / total_blocks:12,.0f}   "
              f"{shared_gas / separate_gas:24.2f}")
    print(f"  L1 transactions per posting: shared 1, reference one per chain (up to {max(counts)})")


if __name__ == "__main__":
    main()
