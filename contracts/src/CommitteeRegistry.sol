// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {EpochRegistry} from "./EpochRegistry.sol";

/// @title CommitteeRegistry (mode `committee`)
/// @notice A fixed committee of N operators set at deploy; the leader rotates round-robin per
///         epoch (operators[(epoch + skips) % N]); each batch needs M operator signatures.
contract CommitteeRegistry is EpochRegistry {
    /// @notice The operator list is empty, has duplicates, or M is out of range.
    error InvalidCommittee();

    /// @notice The operators, in leader order.
    address[] public operators;
    /// @notice Signatures each batch needs.
    uint256 public immutable threshold;
    mapping(address => bool) public isOperator;

    /// @param admin_ The devnet admin (sets the Inbox once; renounceable).
    /// @param epochLength_ L1 blocks per epoch.
    /// @param livenessTimeout_ L1 blocks without a batch before the leader can be skipped.
    /// @param operators_ The N operators.
    /// @param threshold_ M, the signatures a batch needs (1 <= M <= N).
    constructor(
        address admin_,
        uint256 epochLength_,
        uint256 livenessTimeout_,
        address[] memory operators_,
        uint256 threshold_
    ) EpochRegistry(admin_, epochLength_, livenessTimeout_) {
        if (operators_.length == 0 || threshold_ == 0 || threshold_ > operators_.length) revert InvalidCommittee();
        for (uint256 i = 0; i < operators_.length; i++) {
            if (operators_[i] == address(0) || isOperator[operators_[i]]) revert InvalidCommittee();
            isOperator[operators_[i]] = true;
        }
        operators = operators_;
        threshold = threshold_;
    }

    /// @notice The committee, in leader order.
    function committee() external view returns (address[] memory) {
        return operators;
    }

    function _pick(uint256, uint256 epoch, uint256 skips) internal view override returns (address) {
        return operators[(epoch + skips) % operators.length];
    }

    function _verifyAttestations(bytes32 digest, bytes calldata attestations) internal view override {
        address[] memory signers = _signers(digest, attestations);
        uint256 valid = 0;
        for (uint256 i = 0; i < signers.length; i++) {
            if (isOperator[signers[i]]) valid++;
        }
        if (valid < threshold) revert InsufficientAttestations(valid, threshold);
    }
}
