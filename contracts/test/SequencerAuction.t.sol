// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CheatTest, Vm} from "./Vm.sol";
import {Inbox} from "../src/Inbox.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {SequencerAuction} from "../src/SequencerAuction.sol";
import {ISequencerRegistry} from "../src/ISequencerRegistry.sol";

abstract contract AuctionFixture is CheatTest {
    uint256 internal constant CHAIN = 901;
    uint256 internal constant EPOCH_LENGTH = 10;
    uint256 internal constant RESERVE = 0.1 ether;
    // epoch 5: starts at 50, bidding closes at 46, reveals at 46-47, settle from 48

    function params(uint256 burnBps) internal pure returns (SequencerAuction.AuctionParams memory) {
        return SequencerAuction.AuctionParams({
            closeOffset: 4, revealWindow: 2, reservePrice: RESERVE, penaltyBps: 1000, burnBps: burnBps
        });
    }

    function deploy(uint256 burnBps) internal returns (SequencerAuction auction) {
        auction = new SequencerAuction(address(this), EPOCH_LENGTH, 5, 1 ether, 20, 1000, params(burnBps));
    }

    function bidder(uint256 i) internal pure returns (address) {
        return vm.addr(0xB0 + i);
    }

    function stakeAs(StakingRegistry auction, address who, uint256 amount) internal {
        vm.deal(who, amount + 100 ether);
        vm.prank(who);
        auction.stake{value: amount}();
    }

    function salt(address who, uint256 epoch) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", who, epoch));
    }

    function commit(SequencerAuction auction, address who, uint256 epoch, uint256 amount, uint256 collateral)
        internal
    {
        bytes32 commitment = auction.commitmentOf(CHAIN, epoch, who, amount, salt(who, epoch));
        vm.prank(who);
        auction.commitBid{value: collateral}(CHAIN, epoch, commitment);
    }

    function reveal(SequencerAuction auction, address who, uint256 epoch, uint256 amount) internal {
        vm.prank(who);
        auction.revealBid(CHAIN, epoch, amount, salt(who, epoch));
    }
}

contract SequencerAuctionTest is AuctionFixture {
    SequencerAuction internal auction;
    Inbox internal inbox;
    address internal a;
    address internal b;
    address internal c;

    function setUp() public {
        auction = deploy(0);
        inbox = new Inbox(address(auction), 10, 0);
        auction.setInbox(address(inbox));
        (a, b, c) = (bidder(0), bidder(1), bidder(2));
        stakeAs(auction, a, 10 ether);
        stakeAs(auction, b, 20 ether);
        stakeAs(auction, c, 30 ether);
        vm.roll(40);
    }

    function threeBids() internal {
        commit(auction, a, 5, 1 ether, 2 ether);
        commit(auction, b, 5, 3 ether, 3 ether);
        commit(auction, c, 5, 2 ether, 5 ether);
        vm.roll(46);
        reveal(auction, a, 5, 1 ether);
        reveal(auction, b, 5, 3 ether);
        reveal(auction, c, 5, 2 ether);
        vm.roll(48);
    }

    function testHighestBidWinsAndPaysTheSecondPrice() public {
        threeBids();
        vm.expectEmit(true, true, false, true);
        emit SequencerAuction.AuctionSettled(CHAIN, 5, b, 2 ether, 2 ether, 3);
        auction.settle(CHAIN, 5);
        (bool settled, address winner, uint256 price,,,) = auction.auctionOf(CHAIN, 5);
        assertEq(settled ? 1 : 0, 1, "settled");
        assertEq(winner, b, "winner");
        assertEq(price, 2 ether, "second price");
        assertEq(auction.refunds(a), 2 ether, "loser refunded in full");
        assertEq(auction.refunds(b), 1 ether, "winner's change");
        assertEq(auction.refunds(c), 5 ether, "loser refunded in full");
        assertEq(auction.sequencerFor(CHAIN, 50), b, "winner leads its epoch");
        assertEq(auction.sequencerFor(CHAIN, 59), b, "to the end of it");
    }

    function testWinnerTakesOverWithReasonAuction() public {
        threeBids();
        auction.settle(CHAIN, 5);
        vm.roll(50);
        vm.expectEmit(true, true, false, true);
        emit ISequencerRegistry.SequencerChanged(CHAIN, 5, address(0), b, 1);
        auction.syncEpoch(CHAIN);
    }

    function testSettleDuringItsEpochHandsOverToTheWinner() public {
        address fallbackLeader = auction.sequencerFor(CHAIN, 50);
        address winner = fallbackLeader == a ? b : a;
        commit(auction, winner, 5, 1 ether, 1 ether);
        vm.roll(46);
        reveal(auction, winner, 5, 1 ether);
        vm.roll(51);
        auction.syncEpoch(CHAIN);
        assertEq(auction.sequencerFor(CHAIN, 51), fallbackLeader, "unsettled: the stake rule leads");
        vm.expectEmit(true, true, false, true);
        emit ISequencerRegistry.SequencerChanged(CHAIN, 5, fallbackLeader, winner, 1);
        auction.settle(CHAIN, 5);
        assertEq(auction.sequencerFor(CHAIN, 51), winner, "winner leads");
    }

    function testLoneBidPaysTheReserve() public {
        commit(auction, a, 5, 1 ether, 1 ether);
        vm.roll(46);
        reveal(auction, a, 5, 1 ether);
        vm.roll(48);
        auction.settle(CHAIN, 5);
        (, address winner, uint256 price, uint256 second,,) = auction.auctionOf(CHAIN, 5);
        assertEq(winner, a, "winner");
        assertEq(price, RESERVE, "reserve");
        assertEq(second, 0, "no second bid");
        assertEq(auction.refunds(a), 1 ether - RESERVE, "change");
    }

    function testNoValidBidLeavesTheStakeRule() public {
        StakingRegistry pos = new StakingRegistry(address(this), EPOCH_LENGTH, 5, 1 ether, 20, 1000);
        stakeAs(pos, a, 10 ether);
        stakeAs(pos, b, 20 ether);
        stakeAs(pos, c, 30 ether);
        commit(auction, a, 5, RESERVE - 1, 1 ether); // below the reserve: invalid
        vm.roll(46);
        reveal(auction, a, 5, RESERVE - 1);
        vm.roll(48);
        auction.settle(CHAIN, 5);
        (, address winner,,,,) = auction.auctionOf(CHAIN, 5);
        assertEq(winner, address(0), "no winner");
        assertEq(auction.refunds(a), 1 ether, "invalid bid refunded");
        for (uint256 block_ = 50; block_ < 80; block_ += 10) {
            assertEq(auction.sequencerFor(CHAIN, block_), pos.sequencerFor(CHAIN, block_), "pos rule");
        }
        vm.roll(50);
        address posLeader = pos.sequencerFor(CHAIN, 50);
        vm.expectEmit(true, true, false, true);
        emit ISequencerRegistry.SequencerChanged(CHAIN, 5, address(0), posLeader, 0);
        auction.syncEpoch(CHAIN);
    }

    function testTieGoesToTheSmallerBidderHash() public {
        commit(auction, a, 5, 2 ether, 2 ether);
        commit(auction, b, 5, 2 ether, 2 ether);
        vm.roll(46);
        reveal(auction, a, 5, 2 ether);
        reveal(auction, b, 5, 2 ether);
        vm.roll(48);
        auction.settle(CHAIN, 5);
        (, address winner, uint256 price,,,) = auction.auctionOf(CHAIN, 5);
        address expected =
            keccak256(abi.encode(CHAIN, 5, a)) < keccak256(abi.encode(CHAIN, 5, b)) ? a : b;
        assertEq(winner, expected, "tie rule");
        assertEq(price, 2 ether, "pays the tied amount");
    }

    function testJailedOrUnbondingBiddersArePassedOver() public {
        commit(auction, a, 5, 5 ether, 5 ether);
        commit(auction, b, 5, 4 ether, 4 ether);
        commit(auction, c, 5, 1 ether, 1 ether);
        vm.roll(46);
        reveal(auction, a, 5, 5 ether);
        reveal(auction, b, 5, 4 ether);
        reveal(auction, c, 5, 1 ether);
        vm.prank(a);
        auction.requestUnstake();
        vm.roll(48);
        auction.settle(CHAIN, 5);
        (, address winner, uint256 price,,,) = auction.auctionOf(CHAIN, 5);
        assertEq(winner, b, "unbonding a passed over");
        assertEq(price, 1 ether, "second valid bid");
        assertEq(auction.refunds(a), 5 ether, "a refunded");
    }

    function testSilentWinnerIsTimedOutAndNotRefunded() public {
        threeBids();
        auction.settle(CHAIN, 5);
        vm.roll(50);
        auction.syncEpoch(CHAIN);
        vm.roll(56);
        auction.reportTimeout(CHAIN);
        address next = auction.sequencerFor(CHAIN, 56);
        assertEq(next == b ? 1 : 0, 0, "fallback leads");
        assertEq(auction.refunds(b), 1 ether, "price kept");
    }

    function testUnrevealedForfeitsPenaltyAndProceedsArePaidProRata() public {
        commit(auction, a, 5, 1 ether, 2 ether);
        commit(auction, b, 5, 3 ether, 3 ether);
        commit(auction, c, 5, 2 ether, 5 ether); // never revealed: 10% of 5 ether forfeited
        vm.roll(46);
        reveal(auction, a, 5, 1 ether);
        reveal(auction, b, 5, 3 ether);
        vm.roll(48);
        auction.settle(CHAIN, 5);
        (,, uint256 price,, uint256 forfeits,) = auction.auctionOf(CHAIN, 5);
        assertEq(price, 1 ether, "second price");
        assertEq(forfeits, 0.5 ether, "penalty");
        assertEq(auction.refunds(c), 4.5 ether, "rest refunded");
        uint256 proceeds = 1.5 ether;
        assertEq(auction.claimable(a), proceeds * 10 / 60, "a share");
        assertEq(auction.claimable(b), proceeds * 20 / 60, "b share");
        assertEq(auction.claimable(c), proceeds * 30 / 60, "c share");
        uint256 before = c.balance;
        vm.prank(c);
        auction.claim();
        assertEq(c.balance - before, 0.75 ether, "claimed");
        vm.prank(c);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NothingToClaim.selector));
        auction.claim();
        vm.prank(c);
        auction.withdrawRefund();
        vm.prank(c);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NothingToClaim.selector));
        auction.withdrawRefund();
    }

    function testStakeChangesAfterSettlementDoNotDilutePastProceeds() public {
        threeBids();
        auction.settle(CHAIN, 5); // 2 ether to 10/20/30
        stakeAs(auction, bidder(3), 60 ether); // joins after
        vm.prank(a);
        auction.requestUnstake(); // leaves after: keeps its share
        assertEq(auction.claimable(a), uint256(2 ether) * 10 / 60, "a keeps its share");
        assertEq(auction.claimable(bidder(3)), 0, "newcomer gets nothing of the past");
    }

    function testBurnShareIsCounted() public {
        SequencerAuction burning = deploy(2500);
        stakeAs(burning, a, 10 ether);
        stakeAs(burning, b, 10 ether);
        commit(burning, a, 5, 1 ether, 1 ether);
        vm.roll(46);
        reveal(burning, a, 5, 1 ether);
        vm.roll(48);
        burning.settle(CHAIN, 5);
        assertEq(burning.burnedProceeds(), RESERVE / 4, "burned");
        assertEq(burning.claimable(a) + burning.claimable(b), RESERVE * 3 / 4, "to stakers");
    }

    function testBadInputRevertsWithClearErrors() public {
        address stranger = vm.addr(0xDEAD);
        vm.deal(stranger, 10 ether);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.NotBonded.selector, stranger));
        auction.commitBid{value: 1 ether}(CHAIN, 5, bytes32(0));
        vm.prank(a);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.NoCollateral.selector));
        auction.commitBid(CHAIN, 5, bytes32(0));
        commit(auction, a, 5, 3 ether, 2 ether); // amount above collateral: fails at reveal
        commit(auction, b, 5, 1 ether, 1 ether);
        vm.prank(a);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.AlreadyCommitted.selector, a));
        auction.commitBid{value: 1 ether}(CHAIN, 5, bytes32(0));
        vm.prank(b);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.RevealClosed.selector, 46, 48));
        auction.revealBid(CHAIN, 5, 1 ether, salt(b, 5));
        vm.roll(46);
        vm.prank(c);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.CommitClosed.selector, CHAIN, 5, 46));
        auction.commitBid{value: 1 ether}(CHAIN, 5, bytes32(0));
        vm.prank(b);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.RevealMismatch.selector, b));
        auction.revealBid(CHAIN, 5, 2 ether, salt(b, 5));
        vm.prank(a);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.BidOverCollateral.selector, 3 ether, 2 ether));
        auction.revealBid(CHAIN, 5, 3 ether, salt(a, 5));
        vm.prank(c);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.NoCommitment.selector, c));
        auction.revealBid(CHAIN, 5, 1 ether, salt(c, 5));
        reveal(auction, b, 5, 1 ether);
        vm.prank(b);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.AlreadyRevealed.selector, b));
        auction.revealBid(CHAIN, 5, 1 ether, salt(b, 5));
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.SettleTooEarly.selector, 48));
        auction.settle(CHAIN, 5);
        vm.roll(48);
        vm.prank(b);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.RevealClosed.selector, 46, 48));
        auction.revealBid(CHAIN, 5, 1 ether, salt(b, 5));
        auction.settle(CHAIN, 5);
        vm.expectRevert(abi.encodeWithSelector(SequencerAuction.AlreadySettled.selector, CHAIN, 5));
        auction.settle(CHAIN, 5);
        // the failed calls changed nothing: a's bid counts as unrevealed, b won alone at the reserve
        (, address winner, uint256 price,, uint256 forfeits,) = auction.auctionOf(CHAIN, 5);
        assertEq(winner, b, "winner");
        assertEq(price, RESERVE, "reserve");
        assertEq(forfeits, 0.2 ether, "a's penalty");
        assertEq(auction.collateralIn(), 3 ether, "collateral in");
    }

    function testBadParametersRefused() public {
        SequencerAuction.AuctionParams memory p = params(0);
        p.closeOffset = p.revealWindow;
        vm.expectRevert();
        new SequencerAuction(address(this), EPOCH_LENGTH, 5, 1 ether, 20, 1000, p);
    }

    /// forge-config: default.fuzz.runs = 48
    function testFuzzSettleMatchesReference(uint64[6] memory amounts, uint8 revealMask, uint8 jailMask) public {
        address[6] memory who;
        for (uint256 i = 0; i < 6; i++) {
            who[i] = bidder(i);
            if (i >= 3) stakeAs(auction, who[i], 5 ether);
            commit(auction, who[i], 5, amounts[i], uint256(amounts[i]) + 1);
        }
        vm.roll(46);
        for (uint256 i = 0; i < 6; i++) {
            if (revealMask & (1 << i) != 0) reveal(auction, who[i], 5, amounts[i]);
        }
        for (uint256 i = 0; i < 6; i++) {
            if (jailMask & (1 << i) != 0 && i != 2) {
                vm.prank(who[i]);
                auction.requestUnstake();
            }
        }
        vm.roll(48);
        auction.settle(CHAIN, 5);

        // reference: valid = revealed, >= reserve, still bonded; highest wins, ties to the smaller hash
        address best;
        uint256 top;
        uint256 second;
        bool hasSecond;
        uint256 forfeits;
        for (uint256 i = 0; i < 6; i++) {
            bool revealed = revealMask & (1 << i) != 0;
            if (!revealed) forfeits += (uint256(amounts[i]) + 1) * 1000 / 10_000;
            bool bonded = !(jailMask & (1 << i) != 0 && i != 2);
            if (!revealed || !bonded || amounts[i] < RESERVE) continue;
            bool beats = best == address(0) || amounts[i] > top
                || (amounts[i] == top && keccak256(abi.encode(CHAIN, 5, who[i])) < keccak256(abi.encode(CHAIN, 5, best)));
            if (beats) {
                if (best != address(0)) (second, hasSecond) = (top, true);
                (best, top) = (who[i], amounts[i]);
            } else if (!hasSecond || amounts[i] > second) {
                (second, hasSecond) = (amounts[i], true);
            }
        }
        (, address winner, uint256 price,, uint256 forfeitsSeen,) = auction.auctionOf(CHAIN, 5);
        assertEq(winner, best, "winner");
        assertEq(price, best == address(0) ? 0 : (hasSecond ? second : RESERVE), "price");
        assertEq(forfeitsSeen, forfeits, "forfeits");
        uint256 refunded;
        for (uint256 i = 0; i < 6; i++) {
            refunded += auction.refunds(who[i]);
        }
        assertEq(refunded + price + forfeits, auction.collateralIn(), "collateral balances");
        assertEq(auction.sequencerFor(CHAIN, 50) == best ? 1 : 0, best == address(0) ? 0 : 1, "winner leads");
    }
}

/// Random commits, reveals, settlements, withdrawals and claims by three validators.
contract AuctionHandler is AuctionFixture {
    SequencerAuction public auction;
    address[3] internal actors;
    mapping(address => mapping(uint256 => uint256)) internal committed; // amount + 1
    uint256[] internal epochs;
    uint256 public ghostCollateralSent;
    uint256 public ghostRefundsWithdrawn;
    uint256 public ghostProceedsClaimed;
    uint256 public constant STAKES = 60 ether;

    constructor() {
        auction = deploy(1000);
        actors = [bidder(0), bidder(1), bidder(2)];
        for (uint256 i = 0; i < 3; i++) {
            stakeAs(auction, actors[i], 20 ether);
        }
        vm.roll(40);
    }

    function actorsList() external view returns (address[3] memory) {
        return actors;
    }

    function doCommit(uint8 actor, uint64 amount, uint64 extra) external {
        address who = actors[actor % 3];
        uint256 epoch = (block.number + 4) / EPOCH_LENGTH + 1;
        if (committed[who][epoch] != 0) return;
        uint256 collateral = uint256(amount) + extra + 1;
        vm.deal(who, who.balance + collateral);
        commit(auction, who, epoch, amount, collateral);
        committed[who][epoch] = uint256(amount) + 1;
        ghostCollateralSent += collateral;
        if (epochs.length == 0 || epochs[epochs.length - 1] != epoch) epochs.push(epoch);
    }

    function doReveal(uint8 actor, uint8 which) external {
        if (epochs.length == 0) return;
        address who = actors[actor % 3];
        uint256 epoch = epochs[which % epochs.length];
        uint256 stored = committed[who][epoch];
        uint256 close = auction.closeBlock(epoch);
        if (stored == 0 || block.number < close || block.number >= close + 2) return;
        (,,, bool revealed) = auction.bids(CHAIN, epoch, who);
        if (revealed) return;
        reveal(auction, who, epoch, stored - 1);
    }

    function doSettle(uint8 which) external {
        if (epochs.length == 0) return;
        uint256 epoch = epochs[which % epochs.length];
        (bool settled,,,,,) = auction.auctionOf(CHAIN, epoch);
        if (settled || block.number < auction.closeBlock(epoch) + 2) return;
        auction.settle(CHAIN, epoch);
    }

    function doAdvance(uint8 blocks) external {
        vm.roll(block.number + 1 + blocks % 4);
    }

    function doWithdraw(uint8 actor) external {
        address who = actors[actor % 3];
        uint256 amount = auction.refunds(who);
        if (amount == 0) return;
        vm.prank(who);
        auction.withdrawRefund();
        ghostRefundsWithdrawn += amount;
    }

    function doClaim(uint8 actor) external {
        address who = actors[actor % 3];
        uint256 amount = auction.claimable(who);
        if (amount == 0) return;
        vm.prank(who);
        auction.claim();
        ghostProceedsClaimed += amount;
    }
}

contract SequencerAuctionInvariantTest is CheatTest {
    AuctionHandler internal handler;

    function setUp() public {
        handler = new AuctionHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// forge-config: default.invariant.runs = 24
    /// forge-config: default.invariant.depth = 40
    function invariant_collateralIsAccountedFor() public view {
        SequencerAuction auction = handler.auction();
        address[3] memory actors = handler.actorsList();
        uint256 outstanding;
        for (uint256 i = 0; i < 3; i++) {
            outstanding += auction.refunds(actors[i]);
        }
        // collateral in = refunds + prices + forfeits + what unsettled auctions still hold
        assertEq(auction.collateralIn(), handler.ghostCollateralSent(), "collateral in");
        assertEq(
            auction.collateralIn(),
            outstanding + handler.ghostRefundsWithdrawn() + auction.pricesPaid() + auction.forfeited()
                + auction.collateralHeld(),
            "collateral balance"
        );
        // proceeds: credited to stakers + burned = prices + forfeits; the ether is all there
        assertEq(auction.proceedsToStakers() + auction.burnedProceeds(), auction.pricesPaid() + auction.forfeited(), "proceeds");
        assertEq(auction.proceedsClaimed(), handler.ghostProceedsClaimed(), "claims");
        uint256 unclaimed;
        for (uint256 i = 0; i < 3; i++) {
            unclaimed += auction.claimable(actors[i]);
        }
        require(unclaimed + auction.proceedsClaimed() <= auction.proceedsToStakers(), "never more than credited");
        require(auction.proceedsToStakers() - unclaimed - auction.proceedsClaimed() <= 3, "rounding dust only");
        assertEq(
            address(auction).balance,
            handler.STAKES() + outstanding + auction.collateralHeld() + auction.proceedsToStakers()
                - auction.proceedsClaimed() + auction.burnedProceeds(),
            "ether held"
        );
    }
}
