// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CheatTest} from "./Vm.sol";
import {Inbox} from "../src/Inbox.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {SequencerRegistry} from "../src/SequencerRegistry.sol";

/// @notice What a handler shares: a few actors and an inclusive `bound` (forge-std is not available here).
abstract contract HandlerBase is CheatTest {
    uint256 internal constant CHAIN = 901;
    uint256[4] internal keys = [uint256(0xA1), uint256(0xB2), uint256(0xC3), uint256(0xD4)];

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    function actor(uint256 seed) internal view returns (address) {
        return vm.addr(keys[seed % keys.length]);
    }

    function rollBlocks(uint256 blocks) external {
        vm.roll(block.number + bound(blocks, 1, 30));
    }
}

/// @notice Drives random stake / unstake / withdraw / slash / claim calls and keeps ghost totals.
contract StakingHandler is HandlerBase {
    StakingRegistry public immutable registry;
    uint256 public staked;
    uint256 public withdrawn;
    uint256 public claimed;
    /// @notice A second withdraw of one unbonding paid again (must stay false).
    bool public paidTwice;
    mapping(address => uint256) public unbonded;
    mapping(address => uint256) public withdrawnBy;
    mapping(address => uint256) public slashedWhileUnbonding;

    constructor(StakingRegistry registry_) {
        registry = registry_;
    }

    function stake(uint256 seed, uint256 amount) external {
        address who = actor(seed);
        amount = bound(amount, 0, 3 ether);
        vm.deal(who, who.balance + amount);
        vm.prank(who);
        try registry.stake{value: amount}() {
            staked += amount;
        } catch {}
    }

    function requestUnstake(uint256 seed) external {
        address who = actor(seed);
        uint256 amount = stakeOf(who);
        vm.prank(who);
        try registry.requestUnstake() {
            unbonded[who] += amount;
        } catch {}
    }

    function withdraw(uint256 seed) external {
        address who = actor(seed);
        uint256 before = who.balance;
        vm.prank(who);
        try registry.withdraw() {
            withdrawn += who.balance - before;
            withdrawnBy[who] += who.balance - before;
            vm.prank(who);
            try registry.withdraw() {
                paidTwice = true;
            } catch {}
        } catch {}
    }

    function slash(uint256 seed, uint256 reporterSeed, bytes32 hashA) external {
        uint256 key = keys[seed % keys.length];
        address who = vm.addr(key);
        bytes32 hashB = keccak256(abi.encode(hashA));
        bytes memory sigA = sign(key, registry.blockSigningDigest(CHAIN, 1, hashA));
        bytes memory sigB = sign(key, registry.blockSigningDigest(CHAIN, 1, hashB));
        (uint256 amount, uint64 withdrawableAt,,) = registry.validators(who);
        vm.prank(actor(reporterSeed));
        try registry.slashEquivocation(CHAIN, 1, hashA, sigA, hashB, sigB) {
            if (withdrawableAt != 0) slashedWhileUnbonding[who] += amount;
        } catch {}
    }

    function claimReward(uint256 seed) external {
        address who = actor(seed);
        uint256 before = who.balance;
        vm.prank(who);
        try registry.claimReward() {
            claimed += who.balance - before;
        } catch {}
    }

    function stakeOf(address who) public view returns (uint256 amount) {
        (amount,,,) = registry.validators(who);
    }

    function actors() external view returns (address[] memory out) {
        out = new address[](keys.length);
        for (uint256 i = 0; i < keys.length; i++) {
            out[i] = vm.addr(keys[i]);
        }
    }

    function sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }
}

/// @notice Drives random forceInclude / postBatch / forceInclusion / withdrawFees / window changes.
contract InboxHandler is HandlerBase {
    uint256 public constant FEE = 1e15;
    Inbox public inbox;
    address public immutable operator;
    uint256 public feesIn;
    uint256 public feesWithdrawn;
    /// @notice Set when queue order, the cursor or the overdue rule was broken (must stay false).
    bool public broken;
    uint256[] public queuedAt;
    uint256[] public expectedDeadline;

    constructor() {
        operator = vm.addr(keys[0]);
        SequencerRegistry registry = new SequencerRegistry(address(this), 10);
        registry.setSequencer(CHAIN, operator);
        inbox = new Inbox(address(registry), 10, FEE);
    }

    function forceInclude(uint256 seed, bytes32 body) external {
        address who = actor(seed);
        vm.deal(who, who.balance + FEE);
        uint256 deadline = block.number + inbox.inclusionWindow(CHAIN);
        vm.prank(who);
        uint256 index = inbox.forceInclude{value: FEE}(CHAIN, abi.encodePacked(body));
        if (index != queuedAt.length) broken = true;
        feesIn += FEE;
        queuedAt.push(block.number);
        expectedDeadline.push(deadline);
    }

    function postBatch(uint256 endSeed) external {
        uint256 cursor = inbox.forcedCursor(CHAIN);
        uint64 forcedEnd = uint64(bound(endSeed, cursor, queuedAt.length));
        vm.prank(operator);
        try inbox.postBatch(CHAIN, 1, 1, forcedEnd, hex"0101", "") {
            if (forcedEnd < queuedAt.length && expectedDeadline[forcedEnd] < block.number) broken = true;
            checkCursorAtLeast(cursor);
        } catch {}
    }

    function forceInclusion(uint256 seed) external {
        uint256 cursor = inbox.forcedCursor(CHAIN);
        vm.prank(actor(seed));
        try inbox.forceInclusion(CHAIN) {
            checkCursorAtLeast(cursor + 1);
        } catch {}
    }

    function withdrawFees(uint256 seed) external {
        address who = actor(seed);
        uint256 before = who.balance;
        vm.prank(who);
        try inbox.withdrawFees() {
            feesWithdrawn += who.balance - before;
        } catch {}
    }

    function setWindow(uint256 window) external {
        inbox.setInclusionWindow(CHAIN, bound(window, 1, 20));
    }

    function queued() external view returns (uint256) {
        return queuedAt.length;
    }

    function owedTotal() external view returns (uint256 total) {
        for (uint256 i = 0; i < keys.length; i++) {
            total += inbox.feesOwed(vm.addr(keys[i]));
        }
    }

    function checkCursorAtLeast(uint256 floor) private {
        if (inbox.forcedCursor(CHAIN) < floor) broken = true;
    }
}

/// @notice Stake conservation and single payment of each withdrawal under random call sequences.
contract StakingInvariantTest is CheatTest {
    StakingRegistry internal registry;
    StakingHandler internal handler;

    function setUp() public {
        registry = new StakingRegistry(address(this), 10, 5, 1 ether, 5, 1000);
        registry.setInbox(address(new Inbox(address(registry), 10, 0)));
        handler = new StakingHandler(registry);
        vm.roll(100);
    }

    function targetContracts() public view returns (address[] memory out) {
        out = new address[](1);
        out[0] = address(handler);
    }

    /// staked = active + unbonding + slashed (burned + rewards owed + rewards claimed) + withdrawn
    /// forge-config: default.invariant.runs = 12
    /// forge-config: default.invariant.depth = 25
    function invariant_stakeConserved() public view {
        address[] memory actors = handler.actors();
        uint256 active;
        uint256 unbonding;
        uint256 owed;
        for (uint256 i = 0; i < actors.length; i++) {
            (uint256 amount, uint64 withdrawableAt, bool isActive,) = registry.validators(actors[i]);
            if (isActive) active += amount;
            else if (withdrawableAt != 0) unbonding += amount;
            owed += registry.rewards(actors[i]);
        }
        assertEq(active, registry.totalActiveStake(), "active stake");
        uint256 accounted = active + unbonding + registry.burned() + owed + handler.claimed() + handler.withdrawn();
        assertEq(handler.staked(), accounted, "stake conservation");
        assertEq(address(registry).balance, handler.staked() - handler.withdrawn() - handler.claimed(), "balance");
    }

    /// Every unbonded stake is paid at most once: withdrawn = unbonded - still unbonding - slashed while unbonding.
    /// forge-config: default.invariant.runs = 12
    /// forge-config: default.invariant.depth = 25
    function invariant_eachWithdrawalPaidOnce() public view {
        require(!handler.paidTwice(), "withdrawal paid twice");
        address[] memory actors = handler.actors();
        for (uint256 i = 0; i < actors.length; i++) {
            address who = actors[i];
            (uint256 amount, uint64 withdrawableAt, bool isActive,) = registry.validators(who);
            uint256 pending = (!isActive && withdrawableAt != 0) ? amount : 0;
            assertEq(
                handler.withdrawnBy(who),
                handler.unbonded(who) - pending - handler.slashedWhileUnbonding(who),
                "withdrawn once"
            );
        }
    }
}

/// @notice Fee conservation, forced-queue order and deadlines of the Inbox under random call sequences.
contract InboxInvariantTest is CheatTest {
    InboxHandler internal handler;
    Inbox internal inbox;

    function setUp() public {
        vm.roll(100);
        handler = new InboxHandler();
        inbox = handler.inbox();
    }

    function targetContracts() public view returns (address[] memory out) {
        out = new address[](1);
        out[0] = address(handler);
    }

    /// fees in = fees withdrawn + fees owed + fees of entries not yet consumed
    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 30
    function invariant_feesConserved() public view {
        uint256 pending = (handler.queued() - inbox.forcedCursor(901)) * handler.FEE();
        assertEq(handler.feesIn(), handler.feesWithdrawn() + handler.owedTotal() + pending, "fee conservation");
        assertEq(address(inbox).balance, handler.feesIn() - handler.feesWithdrawn(), "balance");
    }

    /// Indices are contiguous, each deadline is its queued block + the window then, the cursor never
    /// passes the queue nor goes back, and no batch leaves an overdue entry behind.
    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 30
    function invariant_forcedQueueOrderAndDeadlines() public view {
        require(!handler.broken(), "order, cursor or overdue rule broken");
        uint256 length = inbox.forcedQueueLength(901);
        assertEq(length, handler.queued(), "indices contiguous");
        require(inbox.forcedCursor(901) <= length, "cursor past the queue");
        for (uint256 i = 0; i < length; i++) {
            Inbox.ForcedEntry memory entry = inbox.forcedEntry(901, i);
            assertEq(uint256(entry.l1Block), handler.queuedAt(i), "queued block");
            assertEq(uint256(entry.deadline), handler.expectedDeadline(i), "deadline = queued block + window");
        }
    }
}
