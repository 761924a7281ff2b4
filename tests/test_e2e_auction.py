"""Mode auction against real processes: Anvil, SequencerAuction, three validator nodes bidding with
different strategies, the gateway and a client.

One devnet, short epochs. The nodes commit, reveal and settle by themselves; the test recomputes each
auction's second-price outcome from the revealed bids on L1, checks who L1 names and why, sends client
transactions through the gateway across the auction handoffs, then claims the proceeds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError

from devnet.config import AuctionSettings
from devnet.network import Devnet, rpc_call
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import load_artifact
from toolkit.testing import fast_config, wait_for

SCALE = 10**36
CHAIN = 901
RESERVE = 10**15
CLIENT = dev_accounts(4)[3]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    config = fast_config(tmp_path_factory.mktemp("auction"), mode="auction", sequencers=3, epoch_length=8,
                         liveness_timeout=8)
    # sequencer-0 bids 0.8 x 0.01 ETH, sequencer-1 a fixed 0.005 ETH, sequencer-2 does not bid by itself
    auction = AuctionSettings(close_offset=6, reveal_window=4, reserve_price_wei=RESERVE,
                              strategies=["value", "fixed 0.005", "off"], expected_mev_wei=10**16, shading=0.8)
    devnet = Devnet(replace(config, auction=auction).validate())
    devnet.up()
    try:
        yield devnet
    finally:
        devnet.down()


def contracts(network: Devnet) -> tuple[Web3, Any]:
    l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
    return l1, l1.eth.contract(address=network.state["registry"]["address"],
                               abi=load_artifact("SequencerAuction")["abi"])


def tie_key(epoch: int) -> Any:
    """The contract's tie-break: the smaller keccak256(abi.encode(chainId, epoch, bidder)) wins."""
    def key(bidder: str) -> bytes:
        return keccak(CHAIN.to_bytes(32, "big") + epoch.to_bytes(32, "big") + bytes(12) + bytes.fromhex(bidder[2:]))
    return key


def send_with_retry(l1: Web3, key: str, call: Any) -> Any:
    """The node with this key sends its own L1 transactions too: retry when our nonce was taken."""
    sender = Account.from_key(key).address
    deadline = time.monotonic() + 60
    while True:
        try:
            tx = call.build_transaction({"from": sender, "gas": 300_000,
                                         "nonce": l1.eth.get_transaction_count(sender, "pending")})
            tx_hash = l1.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction)
            return l1.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.2)
        except ValueError as exc:
            if "nonce" not in str(exc).lower() or time.monotonic() > deadline:
                raise


@pytest.mark.slow
def test_nodes_run_second_price_auctions_and_winners_lead(network: Devnet) -> None:
    l1, auction = contracts(network)
    gateway = Web3(HTTPProvider(network.state["chains"][0]["rpc"]))
    validators = {s["address"] for s in network.state["sequencers"]}
    sent: list[bytes] = []

    first_epoch = network.state["deploy_block"] // 8

    def settled_with_winner() -> list[int]:
        head = l1.eth.block_number
        return [e for e in range(first_epoch, head // 8 + 2)
                if auction.functions.auctionOf(CHAIN, e).call()[1] != "0x" + "00" * 20]

    def send_client_transfer() -> None:
        nonce = gateway.eth.get_transaction_count(CLIENT.address, "pending")
        tx = {"to": "0x000000000000000000000000000000000000dEaD", "value": 1000 + len(sent), "gas": 21_000, "maxFeePerGas": 10**10,
              "maxPriorityFeePerGas": 1, "nonce": nonce, "chainId": CHAIN}
        sent.append(bytes(gateway.eth.send_raw_transaction(Account.sign_transaction(tx, CLIENT.private_key)
                                                           .raw_transaction)))

    # client traffic through the gateway while the auctions change who leads
    last_sent = [0.0]

    def three_won_epochs() -> list[int] | None:
        if len(sent) < 12 and time.monotonic() - last_sent[0] > 3:
            send_client_transfer()
            last_sent[0] = time.monotonic()
        won = settled_with_winner()
        return won if len(won) >= 3 and len(sent) >= 6 else None

    won = wait_for(three_won_epochs, timeout=240, what="three auctions won")

    start = network.state["deploy_block"]
    revealed_logs = auction.events.BidRevealed().get_logs(from_block=start, argument_filters={"chainId": CHAIN})
    for epoch in won:
        settled, winner, price, second, _, bidders = auction.functions.auctionOf(CHAIN, epoch).call()
        revealed = {e["args"]["bidder"]: int(e["args"]["amount"]) for e in revealed_logs if e["args"]["epoch"] == epoch}
        valid = {b: a for b, a in revealed.items() if a >= RESERVE and b in validators}
        top = max(valid.values())
        best = min((b for b, a in valid.items() if a == top), key=tie_key(epoch))
        others = sorted((a for b, a in valid.items() if b != best), reverse=True)
        assert settled and set(revealed) <= set(bidders)
        assert (winner, price) == (best, others[0] if others else RESERVE), (epoch, revealed, winner, price)
        assert auction.functions.sequencerFor(CHAIN, epoch * 8 + 1).call() == winner

    # a change of sequencer that an auction caused says so (more in test_auction_cli_and_rpc)
    changes = auction.events.SequencerChanged().get_logs(from_block=start, argument_filters={"chainId": CHAIN})
    for change in changes:
        winner = auction.functions.winnerOf(CHAIN, change["args"]["epoch"]).call()
        if change["args"]["reason"] == 1:
            assert change["args"]["next"] == winner

    # rollup_sequencer (through the gateway) says who leads and why
    info = wait_for(lambda: (lambda i: i if i["auction"]["settled"] else None)(
        rpc_call(network.state["chains"][0]["rpc"], "rollup_sequencer")), timeout=60, what="a settled epoch")
    assert info["mode"] == "auction" and info["auction"]["epoch"] == info["epoch"]
    if info["auction"]["validWinner"] == info["sequencer"]:
        assert info["auction"]["why"] == "won the epoch's auction"
    else:
        assert info["auction"]["why"].startswith("fallback")

    # every accepted client transaction lands exactly once
    receipts = [gateway.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.2) for h in sent]
    assert all(r["status"] == 1 for r in receipts)
    last = max(int(r["blockNumber"]) for r in receipts)
    seen: dict[bytes, int] = {}
    for number in range(1, last + 1):
        for tx_hash in gateway.eth.get_block(number)["transactions"]:
            seen[bytes(tx_hash)] = seen.get(bytes(tx_hash), 0) + 1
    assert all(seen.get(h) == 1 for h in sent), {h.hex(): seen.get(h) for h in sent}


@pytest.mark.slow
def test_proceeds_are_claimed_pro_rata_once(network: Devnet) -> None:
    l1, auction = contracts(network)
    f = auction.functions
    assert f.proceedsToStakers().call() + f.burnedProceeds().call() == f.pricesPaid().call() + f.forfeited().call()
    for sequencer in network.state["sequencers"]:
        address, key = sequencer["address"], sequencer["private_key"]
        stake = f.validators(address).call()[0]
        receipt = send_with_retry(l1, key, f.claim())
        assert receipt["status"] == 1
        block = int(receipt["blockNumber"])
        (claimed,) = [e["args"] for e in auction.events.ProceedsClaimed().process_receipt(receipt)]
        # its pro-rata share of everything credited so far, to the wei (the accumulator before or
        # after this block: another settlement may share the block)
        shares = {stake * f.proceedsPerStake().call(block_identifier=b) // SCALE for b in (block - 1, block)}
        assert claimed["staker"] == address and claimed["amount"] in shares, (claimed, shares)
        settled_in_block = auction.events.AuctionSettled().get_logs(from_block=block, to_block=block)
        if not settled_in_block:
            with pytest.raises(ContractCustomError) as refused:
                f.claim().call({"from": address}, block_identifier=block)
            assert refused.value.data[:10] == "0x" + keccak(text="NothingToClaim()")[:4].hex()
    owed = sum(f.claimable(s["address"]).call() for s in network.state["sequencers"])
    assert f.proceedsClaimed().call() > 0
    assert f.proceedsClaimed().call() + owed <= f.proceedsToStakers().call()


@pytest.mark.slow
def test_auction_cli_and_rpc(network: Devnet) -> None:
    from click.testing import CliRunner

    from devnet.cli import main

    l1, auction = contracts(network)

    def devnet(*args: str) -> Any:
        return CliRunner().invoke(main, ["--state-dir", str(network.state_dir), *args])

    # sequencer-2 does not bid by itself; bid for it from the CLI (in process), outbidding the others
    head = l1.eth.block_number
    epoch = (head + 1 + 6) // 8 + 2  # the second epoch still open: time for the commit to land
    result = devnet("auction", "bid", "--epoch", str(epoch), "--amount", "0.02", "--from", "sequencer-2")
    assert result.exit_code == 0, result.output
    assert "revealed 0.02 ETH" in result.output
    bidder = network.state["sequencers"][2]["address"]
    assert list(auction.functions.bids(CHAIN, epoch, bidder).call())[2:] == [2 * 10**16, True]

    # bad input: a closed epoch, a stranger, a bad amount: clear errors, nothing sent
    late = devnet("auction", "bid", "--epoch", "1", "--amount", "0.01", "--from", "sequencer-2")
    assert late.exit_code != 0 and "CommitClosed" in late.output, late.output
    for args, message in ((["--from", "nobody"], "no sequencer nobody"), (["--amount", "lots"], "not an amount")):
        base = {"--epoch": str(epoch + 5), "--amount": "0.01", "--from": "sequencer-2"}
        base.update(dict(zip(args[::2], args[1::2], strict=True)))
        bad = devnet("auction", "bid", *[x for kv in base.items() for x in kv])
        assert bad.exit_code != 0 and message in bad.output, bad.output
    assert auction.functions.bids(CHAIN, epoch + 5, bidder).call()[1] == 0

    # sequencer-2 takes epoch E over by auction, and the usual winner takes E + 1 back: both changes
    # are SequencerChanged(reason = auction)
    usual = auction.functions.auctionOf(CHAIN, epoch - 1).call()[1]

    def handovers() -> list[Any] | None:
        changes = auction.events.SequencerChanged().get_logs(from_block=head, argument_filters={"chainId": CHAIN})
        found = [c["args"] for c in changes if c["args"]["reason"] == 1 and c["args"]["epoch"] in (epoch, epoch + 1)]
        return found if len(found) == 2 else None

    took, gave_back = wait_for(handovers, timeout=120, what="the auction handovers of epochs E and E + 1")
    assert (took["epoch"], took["next"]) == (epoch, bidder)
    assert list(auction.functions.auctionOf(CHAIN, epoch).call())[1:3] == [bidder, 8 * 10**15]
    assert (gave_back["epoch"], gave_back["previous"], gave_back["next"]) == (epoch + 1, bidder, usual)

    # rollup_auction and `devnet auction status --json` show the auctions and the stakers' proceeds
    info = rpc_call(network.state["chains"][0]["rpc"], "rollup_auction", timeout=60)
    assert info["chainId"] == CHAIN and info["closeOffset"] == 6 and info["revealWindow"] == 4
    assert {s["address"] for s in info["stakers"]} == {s["address"] for s in network.state["sequencers"]}
    assert any(a["settled"] and a["winner"] for a in info["auctions"])
    status = devnet("auction", "status", "--json")
    assert status.exit_code == 0 and '"auctions"' in status.output, status.output
