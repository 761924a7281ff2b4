// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISequencerRegistry} from "./ISequencerRegistry.sol";

/// @title RegistryBase
/// @notice What every sequencer registry shares: a renounceable devnet admin and epochs of
///         `epochLength` L1 blocks (`epoch = l1Block / epochLength`).
/// @dev The single-operator `SequencerRegistry` and the decentralised modes (`EpochRegistry`)
///      both extend this, so the admin role, the epoch arithmetic and their errors and events are
///      declared once.
abstract contract RegistryBase is ISequencerRegistry {
    /// @notice The caller is not the admin.
    error NotAdmin(address caller);
    /// @notice A parameter is zero or out of range.
    error InvalidParameter();

    /// @notice Emitted when the admin gives up its powers for good.
    event AdminRenounced(address admin);

    /// @inheritdoc ISequencerRegistry
    address public admin;
    /// @inheritdoc ISequencerRegistry
    uint256 public immutable epochLength;

    /// @param admin_ The devnet admin (non-zero).
    /// @param epochLength_ L1 blocks per epoch (> 0).
    constructor(address admin_, uint256 epochLength_) {
        if (admin_ == address(0) || epochLength_ == 0) revert InvalidParameter();
        admin = admin_;
        epochLength = epochLength_;
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    /// @notice Give up the admin role for good.
    function renounceAdmin() external onlyAdmin {
        admin = address(0);
        emit AdminRenounced(msg.sender);
    }

    /// @inheritdoc ISequencerRegistry
    function epochOf(uint256 l1Block) public view returns (uint256) {
        return l1Block / epochLength;
    }
}
