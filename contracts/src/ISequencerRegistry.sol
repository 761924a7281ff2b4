// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ISequencerRegistry
/// @notice Who may sequence (build L2 blocks and post batches) for each L2 chain, per L1 block.
/// @dev Every registry (single operator, committee, staked PoS, auction) implements this, so the
///      Inbox and the nodes do not depend on the sequencing mode.
interface ISequencerRegistry {
    /// @notice Emitted on every change of who sequences a chain, whatever the cause.
    /// @param chainId The L2 chain.
    /// @param epoch The epoch in which the change takes effect.
    /// @param previous The sequencer before the change (zero if none).
    /// @param next The sequencer after the change.
    /// @param reason 0 rotation, 1 auction, 2 slashed, 3 unstaked, 4 timeout (forced rotation), 5 admin.
    event SequencerChanged(
        uint256 indexed chainId, uint256 indexed epoch, address previous, address next, uint8 reason
    );

    /// @notice The address allowed to sequence `chainId` at L1 block `l1Block` (zero if none).
    function sequencerFor(uint256 chainId, uint256 l1Block) external view returns (address);

    /// @notice The epoch an L1 block belongs to.
    function epochOf(uint256 l1Block) external view returns (uint256);

    /// @notice Number of L1 blocks per epoch.
    function epochLength() external view returns (uint256);

    /// @notice The devnet admin (zero once renounced).
    function admin() external view returns (address);

    /// @notice Called by the Inbox for every batch before it checks the sender: brings the epoch
    ///         up to date, checks the batch's attestations (reverts when they do not suffice) and
    ///         records that the leader is alive.
    /// @param chainId The L2 chain.
    /// @param batchDigest The Inbox's `batchDigest`: keccak256(abi.encode(uint256 l1ChainId, address inbox,
    ///        uint256 chainId, uint64 firstL2Block, uint64 lastL2Block, uint64 forcedEnd, bytes32 keccak256(data)))
    ///        with l1ChainId = block.chainid and inbox = the calling Inbox, so attestations for one
    ///        deployment do not count on another.
    /// @param attestations 65-byte signatures over `batchDigest`, signers in ascending address order.
    function onBatch(uint256 chainId, bytes32 batchDigest, bytes calldata attestations) external;
}
