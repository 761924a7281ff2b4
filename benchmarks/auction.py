"""L1 gas of the sequencing auction (mode auction), beside a plain L1 transfer measured in the same run.

    .venv/bin/python benchmarks/auction.py [--bidders 3,10,30] [--handoffs 6]

1. For each number of bidders N, a fresh Anvil with SequencerAuction and N bonded validators: every
   validator commits and reveals a bid for one epoch, then one `settle` and one staker's `claim`.
   Printed: gas of commitBid and revealBid (median over the N bidders), settle with N bids, claim.
   Settle loops over the bids, so it grows with N; claim does not (an accumulator).
2. Handoff gap at auction boundaries: a devnet in mode auction whose three validators bid the same
   amount, so the contract's tie-break (a hash of chain, epoch and bidder) picks a different winner
   from epoch to epoch; the wall time between the last block of one winner and the first of the
   next, beside one leader's block time in the same run (as benchmarks/handoffs.py does for pos).
Nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.handoffs import bench_handoff_gaps  # noqa: E402
from benchmarks.run import with_anvil  # noqa: E402
from devnet.config import AuctionSettings, DevnetConfig  # noqa: E402
from devnet.deploy import RegistrySettings, deploy_contracts  # noqa: E402
from devnet.network import rpc_call  # noqa: E402
from toolkit.accounts import dev_accounts  # noqa: E402
from toolkit.l1.artifacts import load_artifact  # noqa: E402

CHAIN = 901
EPOCH_LENGTH, CLOSE_OFFSET, REVEAL_WINDOW = 1000, 500, 200  # automine: one block per transaction
EPOCH = 1  # bidding closes at block 500, reveals until 700


def send(w3: Web3, key: str, call: Any, value: int = 0) -> int:
    sender = Account.from_key(key).address
    tx = call.build_transaction({"from": sender, "value": value, "gas": 5_000_000,
                                 "nonce": w3.eth.get_transaction_count(sender)})
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction))
    if receipt["status"] != 1:
        raise RuntimeError(f"{call.fn_name} reverted")
    return int(receipt["gasUsed"])


def mine_to(url: str, w3: Web3, block: int) -> None:
    head = w3.eth.block_number
    if block > head:
        rpc_call(url, "anvil_mine", [hex(block - head)])


def measure(url: str, bidders: int) -> dict[str, int]:
    rpc_call(url, "evm_setAutomine", [True])
    keys = [a.private_key for a in dev_accounts(bidders + 1)]
    for key in keys:
        rpc_call(url, "anvil_setBalance", [Account.from_key(key).address, hex(1000 * 10**18)])
    admin, validators = keys[0], keys[1:]
    settings = RegistrySettings(epoch_length=EPOCH_LENGTH, auction_close_offset=CLOSE_OFFSET,
                                auction_reveal_window=REVEAL_WINDOW)
    deployment = deploy_contracts(url, admin, "auction", CHAIN, validators, settings)
    w3 = Web3(HTTPProvider(url))
    auction = w3.eth.contract(address=deployment.registry, abi=load_artifact("SequencerAuction")["abi"])
    f = auction.functions
    bids = {key: (10**15 * (i + 2), os.urandom(32)) for i, key in enumerate(validators)}
    commits = []
    for key, (amount, salt) in bids.items():
        commitment = f.commitmentOf(CHAIN, EPOCH, Account.from_key(key).address, amount, salt).call()
        commits.append(send(w3, key, f.commitBid(CHAIN, EPOCH, commitment), value=amount))
    mine_to(url, w3, EPOCH * EPOCH_LENGTH - CLOSE_OFFSET)
    reveals = [send(w3, key, f.revealBid(CHAIN, EPOCH, amount, salt)) for key, (amount, salt) in bids.items()]
    mine_to(url, w3, EPOCH * EPOCH_LENGTH - CLOSE_OFFSET + REVEAL_WINDOW)
    settle = send(w3, admin, f.settle(CHAIN, EPOCH))
    claim = send(w3, validators[0], f.claim())
    transfer = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(Account.sign_transaction(
        {"to": Account.from_key(admin).address, "value": 1, "gas": 21_000, "gasPrice": w3.eth.gas_price,
         "nonce": w3.eth.get_transaction_count(Account.from_key(validators[0]).address), "chainId": w3.eth.chain_id},
        validators[0]).raw_transaction))["gasUsed"]
    return {"commit": int(statistics.median(commits)), "reveal": int(statistics.median(reveals)),
            "settle": settle, "claim": claim, "transfer": int(transfer)}


HANDOFF_EPOCH = 8  # L1 blocks: bidding closes 6 blocks before an epoch, reveals take 4


def auction_devnet(state_dir: Path) -> DevnetConfig:
    from dataclasses import replace

    from toolkit.testing import fast_config

    config = fast_config(state_dir, mode="auction", sequencers=3, epoch_length=HANDOFF_EPOCH,
                         liveness_timeout=HANDOFF_EPOCH * 4)
    same_bids = AuctionSettings(close_offset=6, reveal_window=4, reserve_price_wei=10**15,
                                strategies=["fixed 0.005"], expected_mev_wei=10**16, shading=0.8)
    return replace(config, auction=same_bids).validate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bidders", default="3,10,30", help="comma-separated bidder counts")
    parser.add_argument("--handoffs", type=int, default=6, help="auction handoffs to time (0: skip)")
    args = parser.parse_args()
    counts = [int(part) for part in args.bidders.split(",")]
    print("L1 gas of the sequencing auction (SequencerAuction on Anvil)")
    for count in counts:
        gas = with_anvil(lambda url, count=count: measure(url, count))
        print(f"  {count:>2} bidders: commitBid {gas['commit']:>7}  revealBid {gas['reveal']:>7}  "
              f"settle {gas['settle']:>8} ({gas['settle'] // count} per bid)  claim {gas['claim']:>7}  "
              f"plain transfer (reference) {gas['transfer']}")
    if args.handoffs > 0:
        gaps, steady = bench_handoff_gaps(args.handoffs, HANDOFF_EPOCH, auction_devnet)
        block_time = statistics.median(steady)
        print(f"handoff gap at auction boundaries (3 validators, equal bids, epoch {HANDOFF_EPOCH} L1 blocks), "
              f"n={len(gaps)}")
        print(f"  median                    {statistics.median(gaps):6.2f} s  "
              f"(ratio to block time {statistics.median(gaps) / block_time:.2f})")
        print(f"  worst                     {max(gaps):6.2f} s  (ratio to block time {max(gaps) / block_time:.2f})")
        print(f"  one leader's block time   {block_time:6.2f} s  (reference, median of {len(steady)})")


if __name__ == "__main__":
    main()
