// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice The few Foundry cheatcodes these tests use (forge-std is not available here).
interface Vm {
    function prank(address sender) external;
    function startPrank(address sender) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert() external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function roll(uint256 blockNumber) external;
    function chainId(uint256 newChainId) external;
    function deal(address account, uint256 balance) external;
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address);
}

abstract contract CheatTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        require(a == b, what);
    }

    function assertEq(address a, address b, string memory what) internal pure {
        require(a == b, what);
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        require(a == b, what);
    }
}
