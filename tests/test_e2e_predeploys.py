"""Every chain's genesis holds the contracts tools assume: the CREATE2 deployer (forge script
`new C{salt: ...}`), Multicall3 (viem multicall: tests/test_e2e_js_clients.py) and the Prague system contracts EIP-2935 / EIP-4788,
which py-evm's block processing keeps up to date."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address
from web3 import Web3

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import REPO_ROOT, find_foundry_tool
from toolkit.l2.predeploys import BEACON_ROOTS, CREATE2_DEPLOYER, HISTORY_STORAGE, MULTICALL3

DEPLOYER_KEY = dev_accounts(10)[6]


def test_system_contracts_hold_block_hashes_and_beacon_roots(sequencer_w3: Web3) -> None:
    for address in (CREATE2_DEPLOYER, MULTICALL3, HISTORY_STORAGE, BEACON_ROOTS):
        assert len(sequencer_w3.eth.get_code(address)) > 0, address
    head = sequencer_w3.eth.get_block("latest")
    assert head["number"] >= 2
    parent = sequencer_w3.eth.get_block(head["number"] - 1)
    # EIP-2935: the history contract answers the hash of an earlier block
    answered = sequencer_w3.eth.call({"to": HISTORY_STORAGE, "data": parent["number"].to_bytes(32, "big")},
                                     head["number"])
    assert bytes(answered) == bytes(parent["hash"])
    # EIP-4788: the beacon roots contract answers a block's parentBeaconBlockRoot by its timestamp
    root = sequencer_w3.eth.call({"to": BEACON_ROOTS, "data": head["timestamp"].to_bytes(32, "big")},
                                 head["number"])
    assert bytes(root) == bytes(head["parentBeaconBlockRoot"])


def test_forge_script_deploys_with_a_salt_through_the_create2_deployer(
    devnet: Devnet, sequencer_w3: Web3, counter_artifact: dict[str, Any], fixtures_build: Path, tmp_path: Path
) -> None:
    url = devnet.node_url("sequencer-0")
    result = subprocess.run(
        [str(find_foundry_tool("forge")), "script", "tests/fixtures/DeploySalted.s.sol:DeploySalted",
         "--rpc-url", url, "--private-key", DEPLOYER_KEY.private_key, "--broadcast", "--json",
         "--contracts", "tests/fixtures"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
        # the session's build of tests/fixtures (no second compile); nothing written into the repository
        env={**os.environ, "FOUNDRY_OUT": str(fixtures_build / "out"),
             "FOUNDRY_CACHE_PATH": str(fixtures_build / "cache"), "FOUNDRY_BROADCAST": str(tmp_path / "broadcast")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    init_code = bytes.fromhex(counter_artifact["bytecode"].removeprefix("0x"))
    salt = (42).to_bytes(32, "big")
    expected = to_checksum_address(
        keccak(b"\xff" + bytes.fromhex(CREATE2_DEPLOYER[2:]) + salt + keccak(init_code))[12:]
    )
    assert len(sequencer_w3.eth.get_code(expected)) > 0
    counter = sequencer_w3.eth.contract(address=expected, abi=counter_artifact["abi"])
    assert counter.functions.count().call() == 0
