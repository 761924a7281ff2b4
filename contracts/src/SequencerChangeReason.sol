// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title SequencerChangeReason
/// @notice The `reason` codes of `ISequencerRegistry.SequencerChanged`.
library SequencerChangeReason {
    uint8 internal constant ROTATION = 0;
    uint8 internal constant AUCTION = 1;
    uint8 internal constant SLASHED = 2;
    uint8 internal constant UNSTAKED = 3;
    uint8 internal constant TIMEOUT = 4;
    uint8 internal constant ADMIN = 5;
}
