// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISequencerRegistry} from "./ISequencerRegistry.sol";
import {RegistryBase} from "./RegistryBase.sol";
import {SequencerChangeReason} from "./SequencerChangeReason.sol";

/// @title EpochRegistry
/// @notice Shared machinery of the decentralised modes: epochs of `epochLength` L1 blocks, a
///         deterministic leader per epoch and chain, rotation recorded on chain with
///         `SequencerChanged`, and a liveness timeout that skips a silent leader.
/// @dev Leader rule: candidates and weights come from the mode (`_candidates`); the epoch's
///      leader is `_pick(chainId, epoch, skips)`. The recorded leader of the current epoch is
///      authoritative once `syncEpoch` ran; before that, and for future epochs, the rule is
///      applied to the current set (so a stake change can change a future schedule).
///      Block signatures are domain-separated by the L1 chain and the Inbox this registry is bound
///      to (`blockSigningDigest`), so a signature made on one devnet is no evidence on another.
abstract contract EpochRegistry is RegistryBase {
    /// @notice The caller is not the Inbox.
    error NotInbox(address caller);
    /// @notice The Inbox is already set.
    error InboxAlreadySet();
    /// @notice The Inbox is not set yet, so block signatures have no domain.
    error InboxNotSet();
    /// @notice The leader posted recently enough; no timeout yet.
    error LeaderAlive(uint256 lastActivity, uint256 timeoutAt);
    /// @notice Not enough valid attestations.
    error InsufficientAttestations(uint256 signedWeight, uint256 requiredWeight);
    /// @notice Attestations must be 65-byte signatures by distinct signers in ascending order.
    error MalformedAttestations();

    /// @notice Emitted when the admin sets the Inbox (once).
    event InboxSet(address inbox);

    struct ChainSchedule {
        bool started;
        uint64 epoch;
        uint64 skips;
        uint64 lastActivity;
        address leader;
    }

    /// @notice The Inbox allowed to call onBatch; part of the block-signing domain.
    address public inbox;
    /// @notice L1 blocks without a batch after which anyone may skip the leader.
    uint256 public immutable livenessTimeout;
    /// @notice The schedule state of each chain that has started.
    mapping(uint256 chainId => ChainSchedule schedule) public schedules;
    /// @notice One entry of a chain's leader history: from `fromBlock` on, `leader` led epoch `epoch`.
    struct LeaderChange {
        uint64 fromBlock;
        uint64 epoch;
        address leader;
    }

    /// @notice Every recorded leader of each chain, in L1 block order (see `leaderAt`).
    mapping(uint256 chainId => LeaderChange[] history) public leaderHistory;
    uint256[] internal chainIds;

    /// @param admin_ The devnet admin (sets the Inbox once; renounceable).
    /// @param epochLength_ L1 blocks per epoch.
    /// @param livenessTimeout_ L1 blocks without a batch before the leader can be skipped.
    constructor(address admin_, uint256 epochLength_, uint256 livenessTimeout_) RegistryBase(admin_, epochLength_) {
        if (livenessTimeout_ == 0) revert InvalidParameter();
        livenessTimeout = livenessTimeout_;
    }

    /// @notice Set the Inbox that reports batches (admin, once).
    /// @param inbox_ The Inbox.
    function setInbox(address inbox_) external onlyAdmin {
        if (inbox != address(0)) revert InboxAlreadySet();
        if (inbox_ == address(0)) revert InvalidParameter();
        inbox = inbox_;
        emit InboxSet(inbox_);
    }

    /// @notice What a sequencer signs for an L2 block (raw digest, no EIP-191 prefix):
    ///         keccak256(abi.encode(uint256 block.chainid, address inbox, uint256 chainId, uint256 number,
    ///         bytes32 blockHash)). The L1 chain id and the Inbox make a signature valid on this
    ///         deployment only. Reverts with `InboxNotSet` before `setInbox`.
    /// @param chainId The L2 chain.
    /// @param number The L2 block number.
    /// @param blockHash The L2 block hash.
    /// @return The digest to sign, or to recover a block signature from.
    function blockSigningDigest(uint256 chainId, uint256 number, bytes32 blockHash) public view returns (bytes32) {
        address boundInbox = inbox;
        if (boundInbox == address(0)) revert InboxNotSet();
        return keccak256(abi.encode(block.chainid, boundInbox, chainId, number, blockHash));
    }

    /// @inheritdoc ISequencerRegistry
    function sequencerFor(uint256 chainId, uint256 l1Block) public view returns (address) {
        uint256 epoch = epochOf(l1Block);
        ChainSchedule storage schedule = schedules[chainId];
        if (schedule.started && schedule.epoch == epoch) return schedule.leader;
        return _pick(chainId, epoch, 0);
    }

    /// @notice Record the current epoch's leader, emitting SequencerChanged(rotation) on a change.
    /// @param chainId The L2 chain.
    function syncEpoch(uint256 chainId) public {
        uint256 epoch = epochOf(block.number);
        ChainSchedule storage schedule = schedules[chainId];
        if (schedule.started && schedule.epoch == epoch) return;
        if (!schedule.started) {
            schedule.started = true;
            // The liveness clock starts with the schedule, not at the start of an epoch that
            // began before anyone could sequence (e.g. epoch 0 of a fresh devnet).
            schedule.lastActivity = uint64(block.number);
            chainIds.push(chainId);
        }
        schedule.epoch = uint64(epoch);
        schedule.skips = 0;
        _setLeader(chainId, _pick(chainId, epoch, 0), _epochReason(chainId, epoch));
    }

    /// @inheritdoc ISequencerRegistry
    function onBatch(uint256 chainId, bytes32 batchDigest, bytes calldata attestations) external {
        if (msg.sender != inbox) revert NotInbox(msg.sender);
        syncEpoch(chainId);
        _verifyAttestations(batchDigest, attestations);
        schedules[chainId].lastActivity = uint64(block.number);
    }

    /// @notice Skip a leader that posted nothing for `livenessTimeout` L1 blocks (anyone may call).
    /// @param chainId The L2 chain.
    function reportTimeout(uint256 chainId) public virtual {
        syncEpoch(chainId);
        ChainSchedule storage schedule = schedules[chainId];
        uint256 epochStart = uint256(schedule.epoch) * epochLength;
        uint256 last = schedule.lastActivity > epochStart ? schedule.lastActivity : epochStart;
        if (block.number <= last + livenessTimeout) revert LeaderAlive(last, last + livenessTimeout + 1);
        schedule.skips += 1;
        schedule.lastActivity = uint64(block.number);
        _setLeader(chainId, _pick(chainId, schedule.epoch, schedule.skips), SequencerChangeReason.TIMEOUT);
    }

    /// @notice Who was entitled to sequence `chainId` at past (or current) L1 block `l1Block`.
    /// @dev The last recorded change at or before `l1Block` if it belongs to that block's epoch;
    ///      otherwise nobody had synced that epoch yet and its scheduled leader applied.
    /// @param chainId The L2 chain.
    /// @param l1Block The L1 block.
    /// @return The leader at that block (zero when nobody could lead).
    function leaderAt(uint256 chainId, uint256 l1Block) public view returns (address) {
        LeaderChange[] storage history = leaderHistory[chainId];
        uint256 epoch = epochOf(l1Block);
        uint256 low = 0;
        uint256 high = history.length; // first entry with fromBlock > l1Block
        while (low < high) {
            uint256 middle = (low + high) / 2;
            if (history[middle].fromBlock <= l1Block) low = middle + 1;
            else high = middle;
        }
        if (low > 0 && history[low - 1].epoch == epoch) return history[low - 1].leader;
        return _pick(chainId, epoch, 0);
    }

    /// @notice Number of entries in a chain's leader history.
    function leaderHistoryLength(uint256 chainId) external view returns (uint256) {
        return leaderHistory[chainId].length;
    }

    /// @notice The chains whose schedule has started.
    function chains() external view returns (uint256[] memory) {
        return chainIds;
    }

    /// @dev Re-pick every started chain's leader after `gone` left the set.
    function _replaceLeader(address gone, uint8 reason) internal {
        for (uint256 i = 0; i < chainIds.length; i++) {
            uint256 chainId = chainIds[i];
            ChainSchedule storage schedule = schedules[chainId];
            if (schedule.leader == gone && schedule.epoch == epochOf(block.number)) {
                _setLeader(chainId, _pick(chainId, schedule.epoch, schedule.skips), reason);
            }
        }
    }

    function _setLeader(uint256 chainId, address next, uint8 reason) internal {
        ChainSchedule storage schedule = schedules[chainId];
        address previous = schedule.leader;
        schedule.leader = next;
        leaderHistory[chainId].push(LeaderChange(uint64(block.number), schedule.epoch, next));
        if (previous != next) emit SequencerChanged(chainId, schedule.epoch, previous, next, reason);
    }

    /// @dev Recover the distinct, ascending signers of concatenated 65-byte signatures.
    function _signers(bytes32 digest, bytes calldata attestations) internal pure returns (address[] memory signers) {
        if (attestations.length % 65 != 0) revert MalformedAttestations();
        signers = new address[](attestations.length / 65);
        address last;
        for (uint256 i = 0; i < signers.length; i++) {
            bytes calldata signature = attestations[i * 65:(i + 1) * 65];
            bytes32 r = bytes32(signature[0:32]);
            bytes32 s = bytes32(signature[32:64]);
            uint8 v = uint8(signature[64]);
            if (v < 27) v += 27;
            address signer = ecrecover(digest, v, r, s);
            if (signer == address(0) || signer <= last) revert MalformedAttestations();
            signers[i] = signer;
            last = signer;
        }
    }

    /// @dev Why the epoch's first leader leads (the `reason` of its SequencerChanged): rotation
    ///      unless a mode says otherwise (an auction win).
    function _epochReason(uint256, uint256) internal view virtual returns (uint8) {
        return SequencerChangeReason.ROTATION;
    }

    /// @dev The epoch leader for `skips` timeouts into the epoch (zero when nobody can lead).
    function _pick(uint256 chainId, uint256 epoch, uint256 skips) internal view virtual returns (address);

    /// @dev Revert unless the attestations suffice for this mode.
    function _verifyAttestations(bytes32 digest, bytes calldata attestations) internal view virtual;
}
