// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CheatTest} from "./Vm.sol";
import {SequencerRegistry} from "../src/SequencerRegistry.sol";
import {RegistryBase} from "../src/RegistryBase.sol";
import {ISequencerRegistry} from "../src/ISequencerRegistry.sol";

contract SequencerRegistryTest is CheatTest {
    SequencerRegistry internal registry;
    address internal constant OPERATOR = address(0xA11CE);
    address internal constant STRANGER = address(0xBAD);

    function setUp() public {
        registry = new SequencerRegistry(address(this), 10);
    }

    function testAdminNamesOperatorWithEvent() public {
        vm.roll(25);
        vm.expectEmit(true, true, false, true);
        emit ISequencerRegistry.SequencerChanged(901, 2, address(0), OPERATOR, 5);
        registry.setSequencer(901, OPERATOR);
        assertEq(registry.sequencerFor(901, 25), OPERATOR, "operator");
        assertEq(registry.sequencerFor(902, 25), address(0), "other chain");
        assertEq(registry.epochOf(25), 2, "epoch");
    }

    function testOnlyAdminNamesOperator() public {
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(RegistryBase.NotAdmin.selector, STRANGER));
        registry.setSequencer(901, STRANGER);
    }

    function testZeroOperatorRefused() public {
        vm.expectRevert(abi.encodeWithSelector(SequencerRegistry.ZeroAddress.selector));
        registry.setSequencer(901, address(0));
    }

    function testRenounceEndsAdminPowers() public {
        vm.expectEmit(false, false, false, true);
        emit RegistryBase.AdminRenounced(address(this));
        registry.renounceAdmin();
        assertEq(registry.admin(), address(0), "admin gone");
        vm.expectRevert(abi.encodeWithSelector(RegistryBase.NotAdmin.selector, address(this)));
        registry.setSequencer(901, OPERATOR);
    }

    function testZeroEpochLengthRefused() public {
        vm.expectRevert(abi.encodeWithSelector(RegistryBase.InvalidParameter.selector));
        new SequencerRegistry(address(this), 0);
    }

    function testZeroAdminRefused() public {
        vm.expectRevert(abi.encodeWithSelector(SequencerRegistry.ZeroAddress.selector));
        new SequencerRegistry(address(0), 10);
    }

    function testSharedBaseKeepsTheInterface() public {
        assertEq(registry.admin(), address(this), "admin");
        assertEq(registry.epochLength(), 10, "epoch length");
        assertEq(registry.epochOf(9), 0, "epoch of 9");
        assertEq(registry.epochOf(10), 1, "epoch of 10");
        registry.onBatch(901, bytes32(0), hex"01"); // mode single: no attestations to check
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(RegistryBase.NotAdmin.selector, STRANGER));
        registry.renounceAdmin();
    }
}
