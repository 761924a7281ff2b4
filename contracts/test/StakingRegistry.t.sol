// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CheatTest} from "./Vm.sol";
import {Inbox} from "../src/Inbox.sol";
import {EpochRegistry} from "../src/EpochRegistry.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {CommitteeRegistry} from "../src/CommitteeRegistry.sol";
import {ISequencerRegistry} from "../src/ISequencerRegistry.sol";
import {RegistryBase} from "../src/RegistryBase.sol";

abstract contract SignerTest is CheatTest {
    uint256[3] internal keys = [uint256(0xA1), uint256(0xB2), uint256(0xC3)];

    function sig(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// Signatures of `which` keys over `digest`, concatenated in ascending signer order.
    function attest(bytes32 digest, uint256[] memory which) internal view returns (bytes memory out) {
        for (uint256 i = 0; i < which.length; i++) {
            for (uint256 j = i + 1; j < which.length; j++) {
                if (vm.addr(which[j]) < vm.addr(which[i])) (which[i], which[j]) = (which[j], which[i]);
            }
        }
        for (uint256 i = 0; i < which.length; i++) {
            out = bytes.concat(out, sig(which[i], digest));
        }
    }

    /// Signatures of `which` keys over `signed`, ordered by the address each recovers to under
    /// `checked`: what a registry checking `checked` sees as well-formed attestations.
    function attestFor(bytes32 signed, bytes32 checked, uint256[] memory which)
        internal
        pure
        returns (bytes memory out)
    {
        bytes[] memory signatures = new bytes[](which.length);
        address[] memory recovered = new address[](which.length);
        for (uint256 i = 0; i < which.length; i++) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(which[i], signed);
            signatures[i] = abi.encodePacked(r, s, v);
            recovered[i] = ecrecover(checked, v, r, s);
        }
        for (uint256 i = 0; i < which.length; i++) {
            for (uint256 j = i + 1; j < which.length; j++) {
                if (recovered[j] < recovered[i]) {
                    (recovered[i], recovered[j]) = (recovered[j], recovered[i]);
                    (signatures[i], signatures[j]) = (signatures[j], signatures[i]);
                }
            }
        }
        for (uint256 i = 0; i < which.length; i++) {
            out = bytes.concat(out, signatures[i]);
        }
    }

    /// The block-signing digest, written out: keccak256(abi.encode(l1ChainId, inbox, chainId, number, blockHash)).
    function blockDigest(uint256 l1ChainId, address boundInbox, uint256 chainId, uint256 number, bytes32 blockHash)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(l1ChainId, boundInbox, chainId, number, blockHash));
    }
}

contract StakingRegistryTest is SignerTest {
    StakingRegistry internal registry;
    Inbox internal inbox;
    uint256 internal constant MIN = 1 ether;

    function setUp() public {
        registry = new StakingRegistry(address(this), 10, 5, MIN, 20, 1000);
        inbox = new Inbox(address(registry), 10, 0);
        registry.setInbox(address(inbox));
        for (uint256 i = 0; i < 3; i++) {
            address validator = vm.addr(keys[i]);
            vm.deal(validator, 10 ether);
            vm.prank(validator);
            registry.stake{value: MIN * (i + 1)}();
        }
        vm.roll(100);
    }

    function leaderKey() internal view returns (uint256) {
        address leader = registry.sequencerFor(901, block.number);
        for (uint256 i = 0; i < 3; i++) {
            if (vm.addr(keys[i]) == leader) return keys[i];
        }
        revert("no leader");
    }

    function post(uint256 key, bytes memory attestations) internal {
        vm.prank(vm.addr(key));
        inbox.postBatch(901, 1, 1, 0, hex"0101", attestations);
    }

    function digest() internal view returns (bytes32) {
        return inbox.batchDigest(901, 1, 1, 0, keccak256(hex"0101"));
    }

    function all() internal view returns (uint256[] memory which) {
        which = new uint256[](3);
        which[0] = keys[0];
        which[1] = keys[1];
        which[2] = keys[2];
    }

    /// `key`'s signature of block (901, number, blockHash) in this deployment's domain.
    function signBlock(uint256 key, uint256 number, bytes32 blockHash) internal view returns (bytes memory) {
        return sig(key, blockDigest(block.chainid, address(inbox), 901, number, blockHash));
    }

    /// A second deployment on the same L1 with the same validators and stakes (another Inbox address).
    function deployAnother() internal returns (StakingRegistry otherRegistry, Inbox otherInbox) {
        otherRegistry = new StakingRegistry(address(this), 10, 5, MIN, 20, 1000);
        otherInbox = new Inbox(address(otherRegistry), 10, 0);
        otherRegistry.setInbox(address(otherInbox));
        for (uint256 i = 0; i < 3; i++) {
            vm.prank(vm.addr(keys[i]));
            otherRegistry.stake{value: MIN * (i + 1)}();
        }
    }

    function isJailed(StakingRegistry which, address validator) internal view returns (bool jailed) {
        (,,, jailed) = which.validators(validator);
    }

    function testStakeRules() public {
        address newcomer = address(0x1234);
        vm.deal(newcomer, 5 ether);
        vm.prank(newcomer);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakeTooLow.selector, MIN - 1, MIN));
        registry.stake{value: MIN - 1}();
        vm.prank(newcomer);
        registry.stake{value: MIN}();
        vm.prank(newcomer);
        registry.stake{value: 1}(); // top-up below the minimum is fine once in
        (uint256 staked,,,) = registry.validators(newcomer);
        assertEq(staked, MIN + 1, "topped up");
        assertEq(registry.totalActiveStake(), 7 ether + 1, "total");
    }

    function testLeaderPostsWithTwoThirdsAttestations() public {
        uint256 key = leaderKey();
        vm.expectEmit(true, true, false, true);
        emit ISequencerRegistry.SequencerChanged(901, 10, address(0), vm.addr(key), 0);
        post(key, attest(digest(), all()));
        assertEq(inbox.batchCount(901), 1, "posted");
    }

    function testBatchWithoutEnoughStakeRefused() public {
        uint256 key = leaderKey();
        uint256[] memory one = new uint256[](1);
        one[0] = keys[0]; // 1 of 6 ether
        bytes memory attestations = attest(digest(), one);
        vm.prank(vm.addr(key));
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.InsufficientAttestations.selector, 1 ether, 4 ether));
        inbox.postBatch(901, 1, 1, 0, hex"0101", attestations);
    }

    function testForgedOrUnorderedAttestationsRefused() public {
        uint256 key = leaderKey();
        bytes memory forged = attest(keccak256("another batch"), all());
        bytes memory good = attest(digest(), all());
        vm.prank(vm.addr(key));
        vm.expectRevert(); // recovers strangers: insufficient or out of order
        inbox.postBatch(901, 1, 1, 0, hex"0101", forged);
        bytes memory swapped = bytes.concat(_slice(good, 65, 65), _slice(good, 0, 65), _slice(good, 130, 65));
        vm.prank(vm.addr(key));
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.MalformedAttestations.selector));
        inbox.postBatch(901, 1, 1, 0, hex"0101", swapped);
    }

    function testNonLeaderRefused() public {
        uint256 leader = leaderKey();
        uint256 other = leader == keys[0] ? keys[1] : keys[0];
        bytes memory attestations = attest(digest(), all());
        vm.prank(vm.addr(other));
        vm.expectRevert(abi.encodeWithSelector(Inbox.NotSequencer.selector, vm.addr(other), vm.addr(leader)));
        inbox.postBatch(901, 1, 1, 0, hex"0101", attestations);
    }

    function testRotationAcrossEpochsEmitsEvents() public {
        registry.syncEpoch(901);
        address first = registry.sequencerFor(901, block.number);
        bool changed = false;
        for (uint256 epoch = 11; epoch < 30 && !changed; epoch++) {
            vm.roll(epoch * 10);
            address next = registry.sequencerFor(901, block.number);
            if (next != first) {
                vm.expectEmit(true, true, false, true);
                emit ISequencerRegistry.SequencerChanged(901, epoch, first, next, 0);
                changed = true;
            }
            registry.syncEpoch(901);
        }
        require(changed, "the leader never rotated");
    }

    function testTimeoutSkipsSilentLeader() public {
        registry.syncEpoch(901);
        address leader = registry.sequencerFor(901, block.number);
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.LeaderAlive.selector, 100, 106));
        registry.reportTimeout(901);
        vm.roll(106);
        registry.reportTimeout(901);
        address next = registry.sequencerFor(901, block.number);
        require(next != leader, "same leader after timeout");
        (,, uint64 skips,,) = registry.schedules(901);
        assertEq(skips, 1, "skips");
    }

    function testLivenessClockStartsWithTheSchedule() public {
        vm.roll(1002); // 2 blocks into epoch 100 (blocks 1000..1009); no leader recorded for the chain yet
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.LeaderAlive.selector, 1002, 1008));
        registry.reportTimeout(901);
        registry.syncEpoch(901);
        vm.roll(1008);
        registry.reportTimeout(901);
        (,, uint64 skips,,) = registry.schedules(901);
        assertEq(skips, 1, "skips");
    }

    function testUnstakeDelayWithdrawOnce() public {
        address validator = vm.addr(keys[2]);
        vm.prank(validator);
        registry.requestUnstake();
        assertEq(registry.totalActiveStake(), 3 ether, "left the set");
        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NotWithdrawable.selector, validator, 120));
        registry.withdraw();
        vm.roll(120);
        uint256 before = validator.balance;
        vm.prank(validator);
        registry.withdraw();
        assertEq(validator.balance - before, 3 ether, "paid");
        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NotWithdrawable.selector, validator, 0));
        registry.withdraw();
    }

    function testEquivocationSlashesJailsAndPaysReporter() public {
        registry.syncEpoch(901);
        uint256 key = leaderKey();
        address culprit = vm.addr(key);
        bytes32 a = keccak256("block a");
        bytes32 b = keccak256("block b");
        bytes memory sigA = signBlock(key, 7, a);
        bytes memory sigB = signBlock(key, 7, b);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NotEquivocation.selector));
        registry.slashEquivocation(901, 7, a, sigA, a, sigA);
        (uint256 staked,,,) = registry.validators(culprit);
        address reporter = address(0xFEED);
        vm.prank(reporter);
        registry.slashEquivocation(901, 7, a, sigA, b, sigB);
        (uint256 left,, bool isActive, bool jailed) = registry.validators(culprit);
        require(left == 0 && !isActive && jailed, "not jailed");
        require(registry.sequencerFor(901, block.number) != culprit, "still leads");
        assertEq(registry.rewards(reporter), staked / 10, "reporter share");
        vm.prank(culprit);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.Jailed.selector, culprit));
        registry.withdraw();
        vm.prank(reporter);
        registry.claimReward();
        assertEq(reporter.balance, staked / 10, "claimed");
    }

    function testBlockSigningDigestLayout() public {
        bytes32 blockHash = keccak256("block a");
        bytes32 digest = registry.blockSigningDigest(901, 7, blockHash);
        assertEq(digest, blockDigest(block.chainid, address(inbox), 901, 7, blockHash), "layout");
        require(digest != keccak256(abi.encode(uint256(901), uint256(7), blockHash)), "still the undomained digest");
        uint256 l1 = block.chainid;
        vm.chainId(l1 + 1);
        require(registry.blockSigningDigest(901, 7, blockHash) != digest, "another L1, same digest");
        vm.chainId(l1);
        (StakingRegistry otherRegistry,) = deployAnother();
        require(otherRegistry.blockSigningDigest(901, 7, blockHash) != digest, "another Inbox, same digest");
    }

    function testBlockSigningDigestNeedsTheInbox() public {
        StakingRegistry unbound = new StakingRegistry(address(this), 10, 5, MIN, 20, 1000);
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.InboxNotSet.selector));
        unbound.blockSigningDigest(901, 7, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.InboxNotSet.selector));
        unbound.slashEquivocation(901, 7, bytes32(uint256(1)), new bytes(65), bytes32(uint256(2)), new bytes(65));
    }

    function testEquivocationSignedForAnotherDeploymentRefused() public {
        (StakingRegistry otherRegistry, Inbox otherInbox) = deployAnother();
        uint256 key = keys[1];
        address culprit = vm.addr(key);
        bytes32 a = keccak256("block a");
        bytes32 b = keccak256("block b");
        bytes memory sigA = sig(key, blockDigest(block.chainid, address(otherInbox), 901, 7, a));
        bytes memory sigB = sig(key, blockDigest(block.chainid, address(otherInbox), 901, 7, b));
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NotEquivocation.selector));
        registry.slashEquivocation(901, 7, a, sigA, b, sigB);
        otherRegistry.slashEquivocation(901, 7, a, sigA, b, sigB); // valid evidence where it was signed
        require(isJailed(otherRegistry, culprit), "not jailed where it equivocated");
        require(!isJailed(registry, culprit), "jailed by another deployment's evidence");
        (uint256 staked,,,) = registry.validators(culprit);
        assertEq(staked, 2 * MIN, "stake kept");
    }

    function testEquivocationSignedOnAnotherL1Refused() public {
        uint256 key = keys[2];
        bytes32 a = keccak256("block a");
        bytes32 b = keccak256("block b");
        uint256 l1 = block.chainid;
        bytes memory sigA = signBlock(key, 7, a);
        bytes memory sigB = signBlock(key, 7, b);
        vm.chainId(l1 + 1); // the same contracts on another L1 (same deployer and nonces)
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NotEquivocation.selector));
        registry.slashEquivocation(901, 7, a, sigA, b, sigB);
        bytes memory foreignA = sig(key, blockDigest(l1 + 1, address(inbox), 901, 7, a));
        bytes memory foreignB = sig(key, blockDigest(l1 + 1, address(inbox), 901, 7, b));
        vm.chainId(l1);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NotEquivocation.selector));
        registry.slashEquivocation(901, 7, a, foreignA, b, foreignB);
        require(!isJailed(registry, vm.addr(key)), "jailed by another L1's evidence");
        registry.slashEquivocation(901, 7, a, sigA, b, sigB);
        require(isJailed(registry, vm.addr(key)), "not jailed on its own L1");
    }

    function testOldFormatBlockSignaturesRefused() public {
        uint256 key = keys[0];
        bytes32 a = keccak256("block a");
        bytes32 b = keccak256("block b");
        bytes memory sigA = sig(key, keccak256(abi.encode(uint256(901), uint256(7), a)));
        bytes memory sigB = sig(key, keccak256(abi.encode(uint256(901), uint256(7), b)));
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NotEquivocation.selector));
        registry.slashEquivocation(901, 7, a, sigA, b, sigB);
    }

    function testAttestationsForAnotherInboxRefused() public {
        (StakingRegistry otherRegistry, Inbox otherInbox) = deployAnother();
        bytes32 dataHash = keccak256(hex"0101");
        bytes32 foreign = otherInbox.batchDigest(901, 1, 1, 0, dataHash);
        // Well-formed (ascending recovered signers) as seen by this Inbox, so only the domain can refuse them.
        bytes memory attestations = attestFor(foreign, digest(), all());
        uint256 key = leaderKey();
        vm.prank(vm.addr(key));
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.InsufficientAttestations.selector, 0, 4 ether));
        inbox.postBatch(901, 1, 1, 0, hex"0101", attestations);
        address otherLeader = otherRegistry.sequencerFor(901, block.number);
        vm.prank(otherLeader);
        otherInbox.postBatch(901, 1, 1, 0, hex"0101", attest(foreign, all())); // valid where they were signed
        assertEq(otherInbox.batchCount(901), 1, "posted on the other Inbox");
        assertEq(inbox.batchCount(901), 0, "nothing posted here");
    }

    function testAttestationsFromAnotherL1Refused() public {
        uint256 l1 = block.chainid;
        bytes32 signedHere = digest();
        vm.chainId(l1 + 1);
        bytes memory attestations = attestFor(signedHere, digest(), all());
        uint256 key = leaderKey();
        vm.prank(vm.addr(key));
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.InsufficientAttestations.selector, 0, 4 ether));
        inbox.postBatch(901, 1, 1, 0, hex"0101", attestations);
        vm.chainId(l1);
        post(key, attest(signedHere, all()));
        assertEq(inbox.batchCount(901), 1, "posted on its own L1");
    }

    /// What each fuzzed signature is over: kinds 0..5 are another domain or another block, 6 is a
    /// malformed signature, 7..11 this deployment's digest for (901, number, blockHash).
    function fuzzSignature(uint256 key, uint8 kind, uint256 salt, uint256 number, bytes32 blockHash)
        internal
        view
        returns (bytes memory)
    {
        uint256 l1 = block.chainid;
        address boundInbox = address(inbox);
        uint256 chainId = 901;
        kind %= 12;
        if (kind == 0) {
            l1 = l1 + 1 + salt % 1000;
        } else if (kind == 1) {
            boundInbox = address(uint160(uint256(keccak256(abi.encode(salt)))));
            if (boundInbox == address(inbox)) boundInbox = address(1);
        } else if (kind == 2) {
            chainId = 902;
        } else if (kind == 3) {
            unchecked {
                number += 1 + salt % 3;
            }
        } else if (kind == 4) {
            return sig(key, keccak256(abi.encode(chainId, number, blockHash))); // the old, undomained digest
        } else if (kind == 5) {
            boundInbox = address(registry);
        } else if (kind == 6) {
            bytes memory good = sig(key, blockDigest(l1, boundInbox, chainId, number, blockHash));
            return bytes.concat(good, hex"00");
        }
        return sig(key, blockDigest(l1, boundInbox, chainId, number, blockHash));
    }

    /// A key by selector: the three validators, or an arbitrary non-validator key.
    function fuzzKey(uint8 who, uint256 salt) internal view returns (uint256) {
        who %= 4;
        if (who < 3) return keys[who];
        // secp256k1 order n; keys in [1, n - 1]
        return 1 + salt % (0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - 1);
    }

    /// One fuzzed equivocation claim: who signs each hash, and over what.
    struct Claim {
        uint256 number;
        bytes32 hashA;
        bytes32 hashB;
        bool sameHash;
        uint8 whoA;
        uint8 whoB;
        bool sameKey;
        uint8 kindA;
        uint8 kindB;
        uint256 salt;
    }

    function testFuzzSlashesOnlyTwoHashesByOneKeyInThisDomain(Claim memory c) public {
        if (c.sameHash) c.hashB = c.hashA;
        uint256 keyA = fuzzKey(c.whoA, c.salt);
        uint256 keyB = c.sameKey ? keyA : fuzzKey(c.whoB, c.salt);
        bytes memory sigA = fuzzSignature(keyA, c.kindA, c.salt, c.number, c.hashA);
        bytes memory sigB = fuzzSignature(keyB, c.kindB, c.salt, c.number, c.hashB);
        bool valid = c.hashA != c.hashB && vm.addr(keyA) == vm.addr(keyB) && c.kindA % 12 >= 7 && c.kindB % 12 >= 7;
        bool slashed;
        try registry.slashEquivocation(901, c.number, c.hashA, sigA, c.hashB, sigB) {
            slashed = true;
        } catch (bytes memory reason) {
            require(
                reason.length == 4 && bytes4(reason) == StakingRegistry.NotEquivocation.selector, "unexpected revert"
            );
        }
        require(slashed == valid, slashed ? "slashed without evidence" : "evidence refused");
        if (slashed) require(isJailed(registry, vm.addr(keyA)), "signer not jailed");
        for (uint256 i = 0; i < 3; i++) {
            address validator = vm.addr(keys[i]);
            bool culprit = slashed && validator == vm.addr(keyA);
            require(isJailed(registry, validator) == culprit, "wrong validator jailed");
            (uint256 staked,,,) = registry.validators(validator);
            assertEq(staked, culprit ? 0 : MIN * (i + 1), "stake");
        }
    }

    function testCensorshipSlashesTheLeaderAtTheDeadline() public {
        registry.syncEpoch(901);
        address culprit = registry.sequencerFor(901, block.number);
        inbox.forceInclude(901, hex"02");
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.NotCensorship.selector, 0));
        registry.slashCensorship(901, 0);
        vm.roll(111);
        inbox.forceInclusion(901);
        registry.slashCensorship(901, 0);
        (,,, bool jailed) = registry.validators(culprit);
        require(jailed, "censor not jailed");
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.AlreadyPunished.selector, 0));
        registry.slashCensorship(901, 0);
    }

    function testCensorshipBlamesTheLeaderAtTheDeadlineNotItsReplacement() public {
        registry.syncEpoch(901); // epoch 10: blocks 100..109
        inbox.setInclusionWindow(901, 3);
        address censor = registry.sequencerFor(901, block.number);
        inbox.forceInclude(901, hex"02"); // deadline 103
        vm.roll(106);
        registry.reportTimeout(901); // the silent censor is skipped within the same epoch
        address replacement = registry.sequencerFor(901, block.number);
        require(replacement != censor, "no skip");
        assertEq(registry.leaderAt(901, 103), censor, "leader at the deadline");
        assertEq(registry.leaderAt(901, 106), replacement, "leader after the skip");
        inbox.forceInclusion(901);
        registry.slashCensorship(901, 0);
        (,,, bool censorJailed) = registry.validators(censor);
        (,,, bool replacementJailed) = registry.validators(replacement);
        require(censorJailed && !replacementJailed, "the wrong validator was slashed");
    }

    function _slice(bytes memory data, uint256 start, uint256 length) private pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i = 0; i < length; i++) {
            out[i] = data[start + i];
        }
    }
}

contract CommitteeRegistryTest is SignerTest {
    CommitteeRegistry internal registry;
    Inbox internal inbox;

    function setUp() public {
        address[] memory operators = new address[](3);
        for (uint256 i = 0; i < 3; i++) {
            operators[i] = vm.addr(keys[i]);
        }
        registry = new CommitteeRegistry(address(this), 10, 5, operators, 2);
        inbox = new Inbox(address(registry), 10, 0);
        registry.setInbox(address(inbox));
        vm.roll(100);
    }

    function testRoundRobinAndTwoOfThree() public {
        assertEq(registry.sequencerFor(901, 100), vm.addr(keys[10 % 3]), "epoch 10 leader");
        assertEq(registry.sequencerFor(901, 110), vm.addr(keys[11 % 3]), "epoch 11 leader");
        bytes32 digest = inbox.batchDigest(901, 1, 1, 0, keccak256(hex"0101"));
        uint256[] memory one = new uint256[](1);
        one[0] = keys[0];
        uint256[] memory two = new uint256[](2);
        two[0] = keys[0];
        two[1] = keys[2];
        bytes memory tooFew = attest(digest, one);
        bytes memory enough = attest(digest, two);
        address leader = vm.addr(keys[1]);
        vm.prank(leader);
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.InsufficientAttestations.selector, 1, 2));
        inbox.postBatch(901, 1, 1, 0, hex"0101", tooFew);
        vm.prank(leader);
        inbox.postBatch(901, 1, 1, 0, hex"0101", enough);
        assertEq(inbox.batchCount(901), 1, "posted");
    }

    function testAdminRulesComeFromTheSharedBase() public {
        address[] memory operators = registry.committee();
        vm.expectRevert(abi.encodeWithSelector(RegistryBase.InvalidParameter.selector));
        new CommitteeRegistry(address(this), 0, 5, operators, 2);
        vm.expectRevert(abi.encodeWithSelector(RegistryBase.InvalidParameter.selector));
        new CommitteeRegistry(address(0), 10, 5, operators, 2);
        CommitteeRegistry fresh = new CommitteeRegistry(address(this), 10, 5, operators, 2);
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(RegistryBase.NotAdmin.selector, address(0xBAD)));
        fresh.setInbox(address(inbox));
        vm.expectEmit(false, false, false, true);
        emit RegistryBase.AdminRenounced(address(this));
        fresh.renounceAdmin();
        assertEq(fresh.admin(), address(0), "admin gone");
        vm.expectRevert(abi.encodeWithSelector(RegistryBase.NotAdmin.selector, address(this)));
        fresh.setInbox(address(inbox));
        assertEq(fresh.epochOf(25), 2, "epoch");
    }

    function testOnlyInboxReportsBatches() public {
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.NotInbox.selector, address(this)));
        registry.onBatch(901, bytes32(0), "");
        vm.expectRevert(abi.encodeWithSelector(EpochRegistry.InboxAlreadySet.selector));
        registry.setInbox(address(1));
    }
}
