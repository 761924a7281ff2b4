// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SignerTest} from "./StakingRegistry.t.sol";
import {Inbox} from "../src/Inbox.sol";
import {EpochRegistry} from "../src/EpochRegistry.sol";
import {ISequencerRegistry} from "../src/ISequencerRegistry.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {SharedStakingRegistry} from "../src/SharedStakingRegistry.sol";

contract SharedInboxTest is SignerTest {
    SharedStakingRegistry internal registry;
    Inbox internal inbox;
    uint256 internal constant MIN = 1 ether;
    uint256 internal constant FEE = 1e15;
    uint256 internal constant WINDOW = 10;
    address internal constant USER = address(0xCAFE);

    function setUp() public {
        registry = new SharedStakingRegistry(address(this), 10, 5, MIN, 20, 1000);
        inbox = new Inbox(address(registry), WINDOW, FEE);
        registry.setInbox(address(inbox));
        for (uint256 i = 0; i < 3; i++) {
            address validator = vm.addr(keys[i]);
            vm.deal(validator, 10 ether);
            vm.prank(validator);
            registry.stake{value: MIN * (i + 1)}();
        }
        vm.deal(USER, 10 ether);
        vm.roll(100);
    }

    function leaderKey() internal view returns (uint256) {
        address leader = registry.sequencerFor(901, block.number);
        for (uint256 i = 0; i < 3; i++) {
            if (vm.addr(keys[i]) == leader) return keys[i];
        }
        revert("no leader");
    }

    function all() internal view returns (uint256[] memory which) {
        which = new uint256[](3);
        which[0] = keys[0];
        which[1] = keys[1];
        which[2] = keys[2];
    }

    function twoChains(uint64 forced901, uint64 forced902)
        internal
        pure
        returns (Inbox.Segment[] memory segments, bytes[] memory datas)
    {
        datas = new bytes[](2);
        datas[0] = hex"0101aa";
        datas[1] = hex"0101bbbb";
        segments = new Inbox.Segment[](2);
        segments[0] = Inbox.Segment(901, 1, 3, forced901, keccak256(datas[0]));
        segments[1] = Inbox.Segment(902, 1, 2, forced902, keccak256(datas[1]));
    }

    function digestOf(Inbox.Segment[] memory segments) internal view returns (bytes32) {
        return inbox.sharedBatchDigest(keccak256(abi.encode(segments)));
    }

    function postAs(uint256 key, Inbox.Segment[] memory segments, bytes[] memory datas) internal {
        bytes memory attestations = attest(digestOf(segments), all());
        vm.prank(vm.addr(key));
        inbox.postSharedBatch(segments, datas, attestations);
    }

    function queue(uint256 chainId) internal {
        vm.prank(USER);
        inbox.forceInclude{value: FEE}(chainId, hex"02aa");
    }

    function testOneLeaderForEveryChainEachEpoch() public view {
        for (uint256 epoch = 10; epoch < 30; epoch++) {
            address leader = registry.sequencerFor(901, epoch * 10);
            require(leader != address(0), "a leader");
            assertEq(registry.sequencerFor(902, epoch * 10), leader, "902 same leader");
            assertEq(registry.sequencerFor(77, epoch * 10 + 9), leader, "any chain same leader");
        }
    }

    function testSharedBatchRecordsEveryChainOnce() public {
        (Inbox.Segment[] memory segments, bytes[] memory datas) = twoChains(0, 0);
        uint256 key = leaderKey();
        address leader = vm.addr(key);
        bytes memory attestations = attest(digestOf(segments), all());
        vm.expectEmit(true, true, false, true);
        emit ISequencerRegistry.SequencerChanged(901, 10, address(0), leader, 0);
        vm.expectEmit(true, true, false, true);
        emit ISequencerRegistry.SequencerChanged(902, 10, address(0), leader, 0);
        vm.expectEmit(true, true, true, true);
        emit Inbox.BatchPosted(901, 0, leader, 1, 3, keccak256(datas[0]));
        vm.expectEmit(true, true, true, true);
        emit Inbox.BatchPosted(902, 0, leader, 1, 2, keccak256(datas[1]));
        vm.expectEmit(true, true, false, true);
        emit Inbox.SharedBatchPosted(0, leader, keccak256(abi.encode(segments)), 2);
        vm.prank(leader);
        inbox.postSharedBatch(segments, datas, attestations);
        assertEq(inbox.batchCount(901), 1, "901 count");
        assertEq(inbox.batchCount(902), 1, "902 count");
        assertEq(inbox.sharedBatchCount(), 1, "shared count");
        (,,, uint64 activity901,) = registry.schedules(901);
        (,,, uint64 activity902,) = registry.schedules(902);
        assertEq(activity901, 100, "901 alive");
        assertEq(activity902, 100, "902 alive");
    }

    function testTimeoutOnOneChainHandsEveryChainOn() public {
        registry.syncEpoch(901);
        registry.syncEpoch(902);
        address silent = registry.sequencerFor(901, block.number);
        vm.roll(105);
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.LeaderAlive.selector, 100, 106));
        registry.reportTimeout(902);
        vm.roll(106);
        registry.reportTimeout(902);
        address next = registry.sequencerFor(902, block.number);
        require(next != silent && next != address(0), "skipped");
        assertEq(registry.sequencerFor(901, block.number), next, "901 follows");
        (,, uint64 skips,,) = registry.schedules(901);
        assertEq(skips, 1, "901 skipped once");
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.LeaderAlive.selector, 106, 112));
        registry.reportTimeout(901); // its clock restarted with the skip
    }

    function testSharedDigestLayout() public view {
        (Inbox.Segment[] memory segments,) = twoChains(0, 0);
        bytes32 segmentsHash = keccak256(abi.encode(segments));
        assertEq(
            inbox.sharedBatchDigest(segmentsHash),
            keccak256(abi.encode(block.chainid, address(inbox), segmentsHash)),
            "layout"
        );
    }

    function testStrangerAndWeakAttestationsRefused() public {
        (Inbox.Segment[] memory segments, bytes[] memory datas) = twoChains(0, 0);
        uint256 key = leaderKey();
        uint256 other = key == keys[0] ? keys[1] : keys[0];
        bytes memory attestations = attest(digestOf(segments), all());
        vm.prank(vm.addr(other));
        vm.expectRevert(abi.encodeWithSelector(Inbox.NotSequencer.selector, vm.addr(other), vm.addr(key)));
        inbox.postSharedBatch(segments, datas, attestations);
        uint256[] memory one = new uint256[](1);
        one[0] = keys[0]; // 1 of 6 ether
        bytes memory weak = attest(digestOf(segments), one);
        vm.prank(vm.addr(key));
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.InsufficientAttestations.selector, MIN, 4 ether));
        inbox.postSharedBatch(segments, datas, weak);
        // attestations over another segment list (the other chain's data changed) do not count
        (Inbox.Segment[] memory changed,) = twoChains(0, 0);
        changed[1].lastL2Block = 3;
        bytes memory wrong = attestFor(digestOf(changed), digestOf(segments), all());
        vm.prank(vm.addr(key));
        vm.expectRevert();
        inbox.postSharedBatch(segments, datas, wrong);
    }

    function testMalformedSegmentsRefused() public {
        (Inbox.Segment[] memory segments, bytes[] memory datas) = twoChains(0, 0);
        uint256 key = leaderKey();
        address leader = vm.addr(key);
        (segments[0], segments[1]) = (segments[1], segments[0]);
        (datas[0], datas[1]) = (datas[1], datas[0]);
        vm.prank(leader);
        vm.expectRevert(abi.encodeWithSelector(Inbox.SegmentsUnordered.selector, 1));
        inbox.postSharedBatch(segments, datas, "");
        (segments, datas) = twoChains(0, 0);
        segments[1].chainId = 901;
        vm.prank(leader);
        vm.expectRevert(abi.encodeWithSelector(Inbox.SegmentsUnordered.selector, 1));
        inbox.postSharedBatch(segments, datas, "");
        (segments, datas) = twoChains(0, 0);
        datas[1] = hex"0101cc";
        vm.prank(leader);
        vm.expectRevert(abi.encodeWithSelector(Inbox.SegmentDataMismatch.selector, 902));
        inbox.postSharedBatch(segments, datas, "");
        datas[1] = "";
        vm.prank(leader);
        vm.expectRevert(abi.encodeWithSelector(Inbox.EmptyBatch.selector));
        inbox.postSharedBatch(segments, datas, "");
        bytes[] memory one = new bytes[](1);
        vm.prank(leader);
        vm.expectRevert(abi.encodeWithSelector(Inbox.InvalidSegmentCount.selector, 2, 1));
        inbox.postSharedBatch(segments, one, "");
        vm.prank(leader);
        vm.expectRevert(abi.encodeWithSelector(Inbox.InvalidSegmentCount.selector, 0, 0));
        inbox.postSharedBatch(new Inbox.Segment[](0), new bytes[](0), "");
        (segments, datas) = twoChains(0, 0);
        segments[1].firstL2Block = 5;
        bytes memory attestations = attest(digestOf(segments), all());
        vm.prank(vm.addr(key));
        vm.expectRevert(abi.encodeWithSelector(Inbox.InvalidBlockRange.selector, uint64(5), uint64(2)));
        inbox.postSharedBatch(segments, datas, attestations);
    }

    function testOverdueEntryOfAnyChainRefusesTheSharedBatch() public {
        queue(902);
        vm.roll(111); // entry 0 of 902 is overdue (deadline 110)
        uint256 key = leaderKey();
        (Inbox.Segment[] memory segments, bytes[] memory datas) = twoChains(0, 0);
        bytes memory attestations = attest(digestOf(segments), all());
        vm.prank(vm.addr(key));
        vm.expectRevert(abi.encodeWithSelector(Inbox.ChainForcedTxOverdue.selector, 902, 0, 110));
        inbox.postSharedBatch(segments, datas, attestations);
        (segments, datas) = twoChains(0, 1);
        vm.expectEmit(true, false, false, true);
        emit Inbox.ForcedTxIncluded(902, 0, 1, 2);
        postAs(key, segments, datas);
        assertEq(inbox.forcedCursor(902), 1, "902 cursor");
        assertEq(inbox.forcedCursor(901), 0, "901 untouched");
        assertEq(inbox.feesOwed(vm.addr(key)), FEE, "poster earns the fee");
        (bool late,) = inbox.lateness(902, 0);
        require(late, "consumed after its deadline: censorship evidence");
    }

    function testPosRegistryCannotTakeSharedBatches() public {
        StakingRegistry pos = new StakingRegistry(address(this), 10, 5, MIN, 20, 1000);
        Inbox posInbox = new Inbox(address(pos), WINDOW, FEE);
        pos.setInbox(address(posInbox));
        (Inbox.Segment[] memory segments, bytes[] memory datas) = twoChains(0, 0);
        vm.expectRevert();
        posInbox.postSharedBatch(segments, datas, "");
    }

    /// Any queue lengths and cursors: the shared batch lands exactly when no carried chain leaves an
    /// overdue entry and no cursor passes its queue, and the poster earns one fee per consumed entry.
    function testFuzzForcedQueuesOfEveryChain(uint8 queued901, uint8 queued902, uint8 end901, uint8 end902, uint8 wait)
        public
    {
        queued901 = queued901 % 5;
        queued902 = queued902 % 5;
        end901 = end901 % 6;
        end902 = end902 % 6;
        for (uint256 i = 0; i < queued901; i++) {
            queue(901);
        }
        for (uint256 i = 0; i < queued902; i++) {
            queue(902);
        }
        vm.roll(100 + (wait % 15)); // past the deadline (110) from block 111 on
        bool overdue = block.number > 110;
        bool ok901 = end901 <= queued901 && !(overdue && end901 < queued901);
        bool ok902 = end902 <= queued902 && !(overdue && end902 < queued902);
        uint256 key = leaderKey();
        (Inbox.Segment[] memory segments, bytes[] memory datas) = twoChains(end901, end902);
        bytes memory attestations = attest(digestOf(segments), all());
        vm.prank(vm.addr(key));
        if (!(ok901 && ok902)) {
            vm.expectRevert();
            inbox.postSharedBatch(segments, datas, attestations);
            assertEq(inbox.sharedBatchCount(), 0, "nothing recorded");
            assertEq(inbox.feesOwed(vm.addr(key)), 0, "no fee");
            return;
        }
        inbox.postSharedBatch(segments, datas, attestations);
        assertEq(inbox.forcedCursor(901), end901, "901 cursor");
        assertEq(inbox.forcedCursor(902), end902, "902 cursor");
        assertEq(inbox.feesOwed(vm.addr(key)), (uint256(end901) + end902) * FEE, "one fee per consumed entry");
    }
}
