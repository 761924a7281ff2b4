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

    function setUp() public {
        registry = new SequencerRegistry(address(this), 10);
        registry.setSequencer(901, OPERATOR);
        inbox = new Inbox(address(registry));
    }

    function testSequencerPostsBatches() public {
        bytes memory data = hex"0101deadbeef";
        vm.expectEmit(true, true, true, true);
        emit Inbox.BatchPosted(901, 0, OPERATOR, 1, 4, keccak256(data));
        vm.prank(OPERATOR);
        inbox.postBatch(901, 1, 4, data);
        vm.prank(OPERATOR);
        inbox.postBatch(901, 5, 5, data);
        assertEq(inbox.batchCount(901), 2, "count");
    }

    function testStrangerCannotPost() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Inbox.NotSequencer.selector, STRANGER, OPERATOR));
        inbox.postBatch(901, 1, 1, hex"01");
    }

    function testUnknownChainRefused() public {
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(Inbox.NotSequencer.selector, OPERATOR, address(0)));
        inbox.postBatch(77, 1, 1, hex"01");
    }

    function testEmptyBatchRefused() public {
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(Inbox.EmptyBatch.selector));
        inbox.postBatch(901, 1, 1, "");
    }

    function testReversedRangeRefused() public {
        vm.prank(OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(Inbox.InvalidBlockRange.selector, uint64(5), uint64(4)));
        inbox.postBatch(901, 5, 4, hex"01");
    }
}
