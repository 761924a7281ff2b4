// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CheatTest} from "./Vm.sol";
import {Inbox} from "../src/Inbox.sol";
import {SequencerRegistry} from "../src/SequencerRegistry.sol";

contract InboxTest is CheatTest {
    SequencerRegistry internal registry;
    Inbox internal inbox;
    address internal constant OPERATOR = address(0xA11CE);
    address internal constant STRANGER = address(0xBAD);
    address internal constant USER = address(0xCAFE);
    uint256 internal constant FEE = 1e15;
    uint256 internal constant WINDOW = 10;

    function setUp() public {
        registry = new SequencerRegistry(address(this), 10);
        registry.setSequencer(901, OPERATOR);
        inbox = new Inbox(address(registry), WINDOW, FEE);
        vm.deal(USER, 1 ether);
        vm.roll(100);
    }

    function post(uint64 first, uint64 last, uint64 forcedEnd) internal {
        vm.prank(OPERATOR);
        inbox.postBatch(901, first, last, forcedEnd, hex"0101", "");
    }

    function queue(bytes memory signedTx) internal returns (uint256) {
        vm.prank(USER);
        return inbox.forceInclude{value: FEE}(901, signedTx);
    }

    function testSequencerPostsBatches() public {
        bytes memory data = hex"0101deadbeef";
        vm.expectEmit(true, true, true, true);
        emit Inbox.BatchPosted(901, 0, OPERATOR, 1, 4, keccak256(data));
        vm.prank(OPERATOR);
        inbox.postBatch(901, 1, 4, 0, data, "");
        post(5, 5, 0);
        assertEq(inbox.batchCount(901), 2, "count");
    }

    function testStrangerCannotPost() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Inbox.NotSequencer.selector, STRANGER, OPERATOR));
        inbox.postBatch(901, 1, 1, 0, hex"01", "");
    }

    function testUnknownChainRefused() public {
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(Inbox.NotSequencer.selector, OPERATOR, address(0)));
        inbox.postBatch(77, 1, 1, 0, hex"01", "");
    }

    function testEmptyBatchRefused() public {
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(Inbox.EmptyBatch.selector));
        inbox.postBatch(901, 1, 1, 0, "", "");
    }

    function testReversedRangeRefused() public {
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(Inbox.InvalidBlockRange.selector, uint64(5), uint64(4)));
        inbox.postBatch(901, 5, 4, 0, hex"01", "");
    }

    function testForceIncludeQueuesWithDeadline() public {
        bytes memory signedTx = hex"02f86b0180";
        vm.expectEmit(true, true, false, true);
        emit Inbox.ForcedTxQueued(901, 0, keccak256(signedTx), USER, 100 + WINDOW, signedTx);
        assertEq(queue(signedTx), 0, "index");
        assertEq(queue(hex"02aa"), 1, "second index");
        Inbox.ForcedEntry memory entry = inbox.forcedEntry(901, 0);
        assertEq(entry.deadline, 110, "deadline");
        assertEq(entry.l1Block, 100, "l1 block");
        assertEq(inbox.forcedQueueLength(901), 2, "length");
    }

    function testForceIncludeRefusesBadInput() public {
        vm.startPrank(USER);
        vm.expectRevert(abi.encodeWithSelector(Inbox.EmptyTransaction.selector));
        inbox.forceInclude{value: FEE}(901, "");
        vm.expectRevert(abi.encodeWithSelector(Inbox.InsufficientFee.selector, FEE - 1, FEE));
        inbox.forceInclude{value: FEE - 1}(901, hex"01");
        bytes memory huge = new bytes(128 * 1024 + 1);
        vm.expectRevert(abi.encodeWithSelector(Inbox.TransactionTooLarge.selector, huge.length, 128 * 1024));
        inbox.forceInclude{value: FEE}(901, huge);
    }

    function testBatchMustConsumeOverdueEntries() public {
        queue(hex"01");
        post(1, 1, 0); // before the deadline, leaving it is allowed
        vm.roll(111);
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(Inbox.ForcedTxOverdue.selector, 0, 110));
        inbox.postBatch(901, 2, 2, 0, hex"0101", "");
        vm.expectEmit(true, false, false, true);
        emit Inbox.ForcedTxIncluded(901, 0, 1, 2);
        post(2, 2, 1);
        assertEq(inbox.forcedCursor(901), 1, "cursor");
        assertEq(inbox.feesOwed(OPERATOR), FEE, "poster earns the fee");
    }

    function testCursorCannotPassTheQueue() public {
        queue(hex"01");
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(Inbox.InvalidForcedCursor.selector, uint64(2), 1));
        inbox.postBatch(901, 1, 1, 2, hex"0101", "");
    }

    function testAnyoneRecordsOverdueEntries() public {
        queue(hex"01");
        queue(hex"02");
        vm.expectRevert(abi.encodeWithSelector(Inbox.NothingOverdue.selector));
        inbox.forceInclusion(901);
        vm.roll(111);
        vm.expectEmit(true, false, false, true);
        emit Inbox.ForcedInclusionRecorded(901, 0, 2, STRANGER);
        vm.prank(STRANGER);
        inbox.forceInclusion(901);
        assertEq(inbox.forcedCursor(901), 2, "cursor");
        uint256 before = STRANGER.balance;
        vm.prank(STRANGER);
        inbox.withdrawFees();
        assertEq(STRANGER.balance - before, 2 * FEE, "fees paid once");
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Inbox.NothingToWithdraw.selector));
        inbox.withdrawFees();
    }

    function testBatchDigestIsBoundToThisInboxAndL1() public {
        bytes32 dataHash = keccak256(hex"0101");
        bytes32 digest = inbox.batchDigest(901, 1, 4, 2, dataHash);
        bytes32 expected = keccak256(
            abi.encode(block.chainid, address(inbox), uint256(901), uint64(1), uint64(4), uint64(2), dataHash)
        );
        assertEq(digest, expected, "layout");
        Inbox other = new Inbox(address(registry), WINDOW, FEE);
        require(other.batchDigest(901, 1, 4, 2, dataHash) != digest, "another Inbox, same digest");
        uint256 l1 = block.chainid;
        vm.chainId(l1 + 1);
        require(inbox.batchDigest(901, 1, 4, 2, dataHash) != digest, "another L1, same digest");
        vm.chainId(l1);
        assertEq(inbox.batchDigest(901, 1, 4, 2, dataHash), digest, "deterministic");
    }

    function testAdminSetsWindow() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Inbox.NotAdmin.selector, STRANGER));
        inbox.setInclusionWindow(901, 3);
        inbox.setInclusionWindow(901, 3);
        assertEq(inbox.inclusionWindow(901), 3, "window");
        assertEq(inbox.inclusionWindow(902), WINDOW, "default");
        vm.expectRevert(abi.encodeWithSelector(Inbox.InvalidWindow.selector));
        inbox.setInclusionWindow(901, 0);
    }
}
