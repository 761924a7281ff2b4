// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {RegistryBase} from "./RegistryBase.sol";
import {ISequencerRegistry} from "./ISequencerRegistry.sol";
import {SequencerChangeReason} from "./SequencerChangeReason.sol";

/// @title SequencerRegistry (mode `single`)
/// @notice One operator per L2 chain, named by a devnet admin. Staking, rotation and slashing
///         extend this registry in the decentralised modes; the interface stays the same.
contract SequencerRegistry is RegistryBase {
    /// @notice The zero address cannot sequence (or administer).
    error ZeroAddress();

    mapping(uint256 chainId => address operator) private operators;

    /// @param admin_ The devnet admin that names operators (non-zero, else `ZeroAddress`).
    /// @param epochLength_ L1 blocks per epoch (> 0, else `InvalidParameter`).
    constructor(address admin_, uint256 epochLength_) RegistryBase(_nonZero(admin_), epochLength_) {}

    /// @notice Name the operator of a chain; takes effect at once.
    /// @param chainId The L2 chain.
    /// @param next The new operator.
    function setSequencer(uint256 chainId, address next) external onlyAdmin {
        if (next == address(0)) revert ZeroAddress();
        address previous = operators[chainId];
        operators[chainId] = next;
        emit SequencerChanged(chainId, epochOf(block.number), previous, next, SequencerChangeReason.ADMIN);
    }

    /// @inheritdoc ISequencerRegistry
    function sequencerFor(uint256 chainId, uint256) external view returns (address) {
        return operators[chainId];
    }

    /// @inheritdoc ISequencerRegistry
    /// @dev Mode `single` needs no attestations and tracks no liveness.
    function onBatch(uint256, bytes32, bytes calldata) external pure {}

    /// @dev Keeps this registry's `ZeroAddress` error for a zero admin (the base would say InvalidParameter).
    function _nonZero(address account) private pure returns (address) {
        if (account == address(0)) revert ZeroAddress();
        return account;
    }
}
