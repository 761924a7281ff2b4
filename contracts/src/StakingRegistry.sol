// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {EpochRegistry} from "./EpochRegistry.sol";
import {SequencerChangeReason} from "./SequencerChangeReason.sol";

/// @notice What the registry needs from the Inbox to judge censorship.
interface IForcedQueueRecord {
    /// @notice Whether forced entry `index` was consumed after its deadline (or forced in), and its deadline.
    function lateness(uint256 chainId, uint256 index) external view returns (bool late, uint256 deadline);
}

/// @title StakingRegistry (mode `pos`)
/// @notice Bonded validators. The leader of each epoch is drawn by stake:
///         r = uint256(keccak256(abi.encode(chainId, epoch))) % totalStake, walking the active list
///         (join order; a leaver's slot is filled by the last entry) until the running sum of stake
///         exceeds r; each timeout moves one place further along that list.
///         A batch needs attestations from validators holding at least 2/3 of the active stake.
///         Slashing (permissionless) takes the whole stake, jails the validator (it leaves the set
///         at once) and pays `reporterShareBps` of it to the reporter.
contract StakingRegistry is EpochRegistry {
    /// @notice The stake sent is below the minimum.
    error StakeTooLow(uint256 stake, uint256 minimum);
    /// @notice The validator is jailed (slashed) and cannot act.
    error Jailed(address validator);
    /// @notice The validator is unbonding and cannot stake again until it withdraws.
    error Unbonding(address validator);
    /// @notice The caller is not an active validator.
    error NotActive(address validator);
    /// @notice Nothing is waiting to be withdrawn, or the delay has not passed.
    error NotWithdrawable(address validator, uint256 availableAt);
    /// @notice The two signed headers are not an equivocation.
    error NotEquivocation();
    /// @notice The forced entry was not consumed late.
    error NotCensorship(uint256 index);
    /// @notice This censorship was already punished.
    error AlreadyPunished(uint256 index);
    /// @notice Nobody led at the entry's deadline.
    error NoCulprit();
    /// @notice Nothing to claim.
    error NothingToClaim();
    /// @notice Sending ETH failed.
    error TransferFailed();

    /// @notice `validator` staked `amount`, now holding `total`.
    event Staked(address indexed validator, uint256 amount, uint256 total);
    /// @notice `validator` left the set; its stake can be withdrawn from L1 block `withdrawableAt`.
    event UnstakeRequested(address indexed validator, uint256 withdrawableAt);
    /// @notice `validator` withdrew `amount`.
    event Withdrawn(address indexed validator, uint256 amount);
    /// @notice `validator` lost `amount`; `reporter` is owed `reward`. kind: 0 equivocation, 1 censorship.
    event Slashed(address indexed validator, uint256 amount, address indexed reporter, uint256 reward, uint8 kind);
    /// @notice `account` claimed `amount` of slashing rewards.
    event RewardClaimed(address indexed account, uint256 amount);

    struct Validator {
        uint256 stake;
        uint64 withdrawableAt; // non-zero while unbonding
        bool active;
        bool jailed;
    }

    uint8 internal constant KIND_EQUIVOCATION = 0;
    uint8 internal constant KIND_CENSORSHIP = 1;

    /// @notice Smallest stake that joins the set.
    uint256 public immutable minStake;
    /// @notice L1 blocks between requestUnstake and withdraw.
    uint256 public immutable unbondingDelay;
    /// @notice Share of a slashed stake paid to the reporter, in basis points.
    uint256 public immutable reporterShareBps;
    /// @notice Sum of the active validators' stake.
    uint256 public totalActiveStake;
    /// @notice Slashed wei not paid to reporters (locked for good).
    uint256 public burned;
    /// @notice Validators by address.
    mapping(address => Validator) public validators;
    /// @notice Slashing rewards waiting to be claimed.
    mapping(address => uint256) public rewards;
    mapping(uint256 chainId => mapping(uint256 index => bool done)) public censorshipPunished;
    address[] internal active;

    /// @param admin_ The devnet admin (sets the Inbox once; renounceable).
    /// @param epochLength_ L1 blocks per epoch.
    /// @param livenessTimeout_ L1 blocks without a batch before the leader can be skipped.
    /// @param minStake_ Smallest stake.
    /// @param unbondingDelay_ L1 blocks from requestUnstake to withdraw.
    /// @param reporterShareBps_ Reporter's share of a slashed stake (basis points, <= 10000).
    constructor(
        address admin_,
        uint256 epochLength_,
        uint256 livenessTimeout_,
        uint256 minStake_,
        uint256 unbondingDelay_,
        uint256 reporterShareBps_
    ) EpochRegistry(admin_, epochLength_, livenessTimeout_) {
        if (minStake_ == 0 || reporterShareBps_ > 10_000) revert InvalidParameter();
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
        reporterShareBps = reporterShareBps_;
    }

    /// @notice Join the set, or add to your stake.
    function stake() external payable {
        _beforeStakeChange(msg.sender);
        Validator storage v = validators[msg.sender];
        if (v.jailed) revert Jailed(msg.sender);
        if (v.withdrawableAt != 0) revert Unbonding(msg.sender);
        if (v.stake + msg.value < minStake) revert StakeTooLow(v.stake + msg.value, minStake);
        v.stake += msg.value;
        totalActiveStake += msg.value;
        if (!v.active) {
            v.active = true;
            active.push(msg.sender);
        }
        emit Staked(msg.sender, msg.value, v.stake);
    }

    /// @notice Leave the set now; the stake can be withdrawn after the unbonding delay.
    function requestUnstake() external {
        Validator storage v = validators[msg.sender];
        if (!v.active) revert NotActive(msg.sender);
        _leave(msg.sender);
        v.withdrawableAt = uint64(block.number + unbondingDelay);
        emit UnstakeRequested(msg.sender, v.withdrawableAt);
        _replaceLeader(msg.sender, SequencerChangeReason.UNSTAKED);
    }

    /// @notice Take back an unbonded stake (once; a slashed stake is gone).
    function withdraw() external {
        Validator storage v = validators[msg.sender];
        if (v.jailed) revert Jailed(msg.sender);
        if (v.withdrawableAt == 0 || block.number < v.withdrawableAt || v.stake == 0) {
            revert NotWithdrawable(msg.sender, v.withdrawableAt);
        }
        uint256 amount = v.stake;
        v.stake = 0;
        v.withdrawableAt = 0;
        emit Withdrawn(msg.sender, amount);
        (bool sent,) = msg.sender.call{value: amount}("");
        if (!sent) revert TransferFailed();
    }

    /// @notice Prove that one validator signed two different L2 headers for one chain and height.
    /// @dev Only signatures over this deployment's domain count (see `blockSigningDigest`); reverts
    ///      with `InboxNotSet` before the Inbox is set.
    /// @param chainId The L2 chain.
    /// @param number The L2 block number.
    /// @param hashA One block hash.
    /// @param signatureA Its signature over blockSigningDigest(chainId, number, hashA).
    /// @param hashB Another block hash.
    /// @param signatureB Its signature over blockSigningDigest(chainId, number, hashB).
    function slashEquivocation(
        uint256 chainId,
        uint256 number,
        bytes32 hashA,
        bytes calldata signatureA,
        bytes32 hashB,
        bytes calldata signatureB
    ) external {
        if (hashA == hashB) revert NotEquivocation();
        address signerA = _recover(blockSigningDigest(chainId, number, hashA), signatureA);
        address signerB = _recover(blockSigningDigest(chainId, number, hashB), signatureB);
        if (signerA == address(0) || signerA != signerB) revert NotEquivocation();
        _slash(signerA, KIND_EQUIVOCATION);
    }

    /// @notice Punish the validator that led when forced entry `index` reached its deadline unconsumed.
    /// @param chainId The L2 chain.
    /// @param index The forced-queue entry (consumed late, or recorded as forced on the Inbox).
    function slashCensorship(uint256 chainId, uint256 index) external {
        (bool late, uint256 deadline) = IForcedQueueRecord(inbox).lateness(chainId, index);
        if (!late) revert NotCensorship(index);
        if (censorshipPunished[chainId][index]) revert AlreadyPunished(index);
        address culprit = leaderAt(chainId, deadline);
        if (culprit == address(0)) revert NoCulprit();
        censorshipPunished[chainId][index] = true;
        _slash(culprit, KIND_CENSORSHIP);
    }

    /// @notice Claim slashing rewards (pull payment).
    function claimReward() external {
        uint256 amount = rewards[msg.sender];
        if (amount == 0) revert NothingToClaim();
        rewards[msg.sender] = 0;
        emit RewardClaimed(msg.sender, amount);
        (bool sent,) = msg.sender.call{value: amount}("");
        if (!sent) revert TransferFailed();
    }

    /// @notice The active validators, in join order, except that a leaver's slot goes to the last one.
    function activeValidators() external view returns (address[] memory) {
        return active;
    }

    function _slash(address validator, uint8 kind) private {
        Validator storage v = validators[validator];
        if (v.jailed) revert Jailed(validator);
        uint256 amount = v.stake;
        if (v.active) _leave(validator);
        v.stake = 0;
        v.jailed = true;
        v.withdrawableAt = 0;
        uint256 reward = amount * reporterShareBps / 10_000;
        rewards[msg.sender] += reward;
        burned += amount - reward;
        emit Slashed(validator, amount, msg.sender, reward, kind);
        _replaceLeader(validator, SequencerChangeReason.SLASHED);
    }

    /// @dev Called before a validator's active stake changes (joins, tops up or leaves the set).
    function _beforeStakeChange(address validator) internal virtual {}

    function _leave(address validator) private {
        _beforeStakeChange(validator);
        Validator storage v = validators[validator];
        v.active = false;
        totalActiveStake -= v.stake;
        for (uint256 i = 0; i < active.length; i++) {
            if (active[i] == validator) {
                active[i] = active[active.length - 1];
                active.pop();
                break;
            }
        }
    }

    function _pick(uint256 chainId, uint256 epoch, uint256 skips) internal view virtual override returns (address) {
        uint256 count = active.length;
        if (count == 0 || totalActiveStake == 0) return address(0);
        uint256 target = uint256(keccak256(abi.encode(chainId, epoch))) % totalActiveStake;
        uint256 index = 0;
        uint256 cumulative = validators[active[0]].stake;
        while (cumulative <= target) {
            index++;
            cumulative += validators[active[index]].stake;
        }
        return active[(index + skips) % count];
    }

    function _verifyAttestations(bytes32 digest, bytes calldata attestations) internal view override {
        address[] memory signers = _signers(digest, attestations);
        uint256 signed = 0;
        for (uint256 i = 0; i < signers.length; i++) {
            Validator storage v = validators[signers[i]];
            if (v.active) signed += v.stake;
        }
        if (signed * 3 < totalActiveStake * 2) {
            revert InsufficientAttestations(signed, (totalActiveStake * 2 + 2) / 3);
        }
    }

    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        return ecrecover(digest, v, bytes32(signature[0:32]), bytes32(signature[32:64]));
    }
}
