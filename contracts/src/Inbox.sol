// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISequencerRegistry} from "./ISequencerRegistry.sol";

/// @title Inbox
/// @notice Where sequencers post L2 batches. L1 checks only who posts; what a batch holds is
///         judged by derivation on every node (a batch that does not decode is skipped there).
/// @dev The batch bytes live in this call's calldata; the event carries their hash so a node can
///      read them back from the transaction and check them.
contract Inbox {
    /// @notice The caller is not the sequencer the registry names for this chain and L1 block.
    error NotSequencer(address caller, address expected);
    /// @notice A batch must hold data.
    error EmptyBatch();
    /// @notice The declared L2 block range is reversed.
    error InvalidBlockRange(uint64 first, uint64 last);

    /// @notice A batch of L2 blocks `firstL2Block..lastL2Block` was posted for `chainId`.
    event BatchPosted(
        uint256 indexed chainId,
        uint256 indexed batchIndex,
        address indexed sender,
        uint64 firstL2Block,
        uint64 lastL2Block,
        bytes32 dataHash
    );

    /// @notice The registry that names the sequencer.
    ISequencerRegistry public immutable registry;
    /// @notice Batches posted so far, per chain.
    mapping(uint256 chainId => uint256 count) public batchCount;

    /// @param registry_ The sequencer registry.
    constructor(address registry_) {
        registry = ISequencerRegistry(registry_);
    }

    /// @notice Post a batch of L2 blocks as calldata.
    /// @param chainId The L2 chain.
    /// @param firstL2Block Number of the first L2 block in the batch.
    /// @param lastL2Block Number of the last L2 block in the batch.
    /// @param data The encoded batch (version, compression, compressed RLP).
    function postBatch(uint256 chainId, uint64 firstL2Block, uint64 lastL2Block, bytes calldata data) external {
        address expected = registry.sequencerFor(chainId, block.number);
        if (msg.sender != expected || expected == address(0)) revert NotSequencer(msg.sender, expected);
        if (data.length == 0) revert EmptyBatch();
        if (firstL2Block > lastL2Block) revert InvalidBlockRange(firstL2Block, lastL2Block);
        uint256 index = batchCount[chainId]++;
        emit BatchPosted(chainId, index, msg.sender, firstL2Block, lastL2Block, keccak256(data));
    }
}
