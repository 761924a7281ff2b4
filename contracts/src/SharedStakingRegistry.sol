// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISharedSequencerRegistry} from "./ISharedSequencerRegistry.sol";
import {SequencerChangeReason} from "./SequencerChangeReason.sol";
import {StakingRegistry} from "./StakingRegistry.sol";

/// @title SharedStakingRegistry (mode `shared`)
/// @notice The `pos` validator set ordering for several L2 chains at once: one leader per epoch for
///         every chain, drawn by stake as in StakingRegistry but from keccak256(abi.encode(0, epoch)),
///         whatever the chain id. Each chain keeps its own schedule record, so each chain still sees
///         its own `SequencerChanged(chainId, ...)`; a liveness timeout reported on any chain skips
///         the silent leader on every started chain at once (a handoff is always for all chains).
///         Shared batches (`Inbox.postSharedBatch`) are attested once by 2/3 of the active stake.
contract SharedStakingRegistry is StakingRegistry, ISharedSequencerRegistry {
    /// @notice The namespace the leader draw uses instead of a chain id.
    uint256 public constant SHARED_DRAW = 0;

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
    ) StakingRegistry(admin_, epochLength_, livenessTimeout_, minStake_, unbondingDelay_, reporterShareBps_) {}

    /// @inheritdoc ISharedSequencerRegistry
    function onSharedBatch(uint256[] calldata chainIds, bytes32 digest, bytes calldata attestations) external {
        if (msg.sender != inbox) revert NotInbox(msg.sender);
        for (uint256 i = 0; i < chainIds.length; i++) {
            syncEpoch(chainIds[i]);
        }
        _verifyAttestations(digest, attestations);
        for (uint256 i = 0; i < chainIds.length; i++) {
            schedules[chainIds[i]].lastActivity = uint64(block.number);
        }
    }

    /// @notice Skip a leader that posted nothing for `livenessTimeout` L1 blocks on `chainId`, on
    ///         every started chain (each emits its own SequencerChanged with reason timeout).
    /// @param chainId The L2 chain whose silence is reported.
    function reportTimeout(uint256 chainId) public override {
        super.reportTimeout(chainId);
        uint64 skips = schedules[chainId].skips;
        for (uint256 i = 0; i < chainIds.length; i++) {
            uint256 other = chainIds[i];
            if (other == chainId) continue;
            syncEpoch(other);
            ChainSchedule storage schedule = schedules[other];
            if (schedule.skips < skips) {
                schedule.skips = skips;
                schedule.lastActivity = uint64(block.number);
                _setLeader(other, _pick(other, schedule.epoch, skips), SequencerChangeReason.TIMEOUT);
            }
        }
    }

    /// @dev The same draw for every chain: the leader does not depend on the chain id.
    function _pick(uint256, uint256 epoch, uint256 skips) internal view override returns (address) {
        return super._pick(SHARED_DRAW, epoch, skips);
    }
}
