// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ISharedSequencerRegistry
/// @notice A registry whose one validator set sequences several L2 chains at once (mode `shared`):
///         the Inbox reports a shared batch once, for all the chains it carries.
interface ISharedSequencerRegistry {
    /// @notice Called by the Inbox for every shared batch before it checks the sender: brings every
    ///         carried chain's epoch up to date, checks the attestations once (reverts when they do not
    ///         suffice) and records that the leader is alive on each of those chains.
    /// @param chainIds The chains the batch carries, strictly ascending.
    /// @param digest The Inbox's `sharedBatchDigest` of the batch's segments.
    /// @param attestations 65-byte signatures over `digest`, signers in ascending address order.
    function onSharedBatch(uint256[] calldata chainIds, bytes32 digest, bytes calldata attestations) external;
}
