// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISequencerRegistry} from "./ISequencerRegistry.sol";
import {SequencerChangeReason} from "./SequencerChangeReason.sol";

/// @title SequencerRegistry (mode `single`)
/// @notice One operator per L2 chain, named by a devnet admin. Staking, rotation and slashing
///         extend this registry in the decentralised modes; the interface stays the same.
contract SequencerRegistry is ISequencerRegistry {
    /// @notice The caller is not the admin.
    error NotAdmin(address caller);
    /// @notice The zero address cannot sequence.
    error ZeroAddress();
    /// @notice Epochs must be at least one L1 block long.
    error InvalidEpochLength();

    /// @notice Emitted when the admin gives up its powers for good.
    event AdminRenounced(address admin);

    /// @notice The devnet admin (zero once renounced).
    address public admin;
    /// @inheritdoc ISequencerRegistry
    uint256 public immutable epochLength;
    mapping(uint256 chainId => address operator) private operators;

    /// @param admin_ The devnet admin that names operators.
    /// @param epochLength_ L1 blocks per epoch (> 0).
    constructor(address admin_, uint256 epochLength_) {
        if (admin_ == address(0)) revert ZeroAddress();
        if (epochLength_ == 0) revert InvalidEpochLength();
        admin = admin_;
        epochLength = epochLength_;
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    /// @notice Name the operator of a chain; takes effect at once.
    /// @param chainId The L2 chain.
    /// @param next The new operator.
    function setSequencer(uint256 chainId, address next) external onlyAdmin {
        if (next == address(0)) revert ZeroAddress();
        address previous = operators[chainId];
        operators[chainId] = next;
        emit SequencerChanged(chainId, epochOf(block.number), previous, next, SequencerChangeReason.ADMIN);
    }

    /// @notice Give up the admin role for good.
    function renounceAdmin() external onlyAdmin {
        address previous = admin;
        admin = address(0);
        emit AdminRenounced(previous);
    }

    /// @inheritdoc ISequencerRegistry
    function sequencerFor(uint256 chainId, uint256) external view returns (address) {
        return operators[chainId];
    }

    /// @inheritdoc ISequencerRegistry
    /// @dev Mode `single` needs no attestations and tracks no liveness.
    function onBatch(uint256, bytes32, bytes calldata) external pure {}

    /// @inheritdoc ISequencerRegistry
    function epochOf(uint256 l1Block) public view returns (uint256) {
        return l1Block / epochLength;
    }
}
