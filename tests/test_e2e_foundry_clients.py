"""Foundry's own clients, from the pinned npm packages, against the L2 RPC."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import REPO_ROOT, find_foundry_tool

SENDER, RECEIVER = dev_accounts(10)[8], dev_accounts(10)[9]


def run(tool: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(find_foundry_tool(tool)), *args], capture_output=True, text=True, timeout=120,
                            cwd=REPO_ROOT, env=env)
    assert result.returncode == 0, f"{tool} {' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_cast_sends_and_reads_a_receipt(devnet: Devnet) -> None:
    url = devnet.node_url("sequencer-0")
    assert run("cast", "chain-id", "--rpc-url", url).strip() == "901"
    sent = json.loads(run("cast", "send", "--json", "--rpc-url", url, "--private-key", SENDER.private_key,
                          RECEIVER.address, "--value", "1000"))
    receipt = json.loads(run("cast", "receipt", "--json", "--rpc-url", url, sent["transactionHash"]))
    assert receipt["status"] == "0x1" and receipt["blockHash"] == sent["blockHash"]
    assert int(run("cast", "balance", "--rpc-url", url, RECEIVER.address).strip()) > 0


def test_forge_create_deploys(devnet: Devnet, fixtures_build: Path) -> None:
    url = devnet.node_url("sequencer-0")
    # the session's build of tests/fixtures: no second compile, and the repository's out/ and cache/ (which
    # the contract-artifact check builds into) are left alone
    build = {"FOUNDRY_OUT": str(fixtures_build / "out"), "FOUNDRY_CACHE_PATH": str(fixtures_build / "cache")}
    output = run("forge", "create", "tests/fixtures/Counter.sol:Counter", "--rpc-url", url, "--private-key",
                 SENDER.private_key, "--broadcast", "--json", "--contracts", "tests/fixtures",
                 env={**os.environ, **build})
    deployed = json.loads(output[output.index("{"):])
    code = run("cast", "code", "--rpc-url", url, deployed["deployedTo"]).strip()
    assert len(code) > 10
    assert run("cast", "call", "--rpc-url", url, deployed["deployedTo"], "count()(uint256)").strip() == "0"
