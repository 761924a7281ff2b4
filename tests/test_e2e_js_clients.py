"""ethers v6 and viem (pinned in tools/package.json) against the L2 RPC, over HTTP and WebSocket:
transfers, multicall through the Multicall3 predeploy, and ethers' getSigner() with a node account."""

from __future__ import annotations

import json
import shutil
import subprocess

from devnet.network import Devnet
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import REPO_ROOT


def test_ethers_and_viem(devnet: Devnet) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required (./dev setup uses npm)"
    url = devnet.node_url("sequencer-0")
    accounts = dev_accounts(10)
    result = subprocess.run(
        [node, "tests/js/clients.cjs", url, url.replace("http://", "ws://"), accounts[4].private_key,
         accounts[3].private_key],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ethers"] == {**report["ethers"], "chainId": 901, "status": 1, "maxFee": True}
    assert report["viem"]["chainId"] == 901 and report["viem"]["status"] == "success"
    assert report["ethers"]["wsBlock"] > 0 and report["viem"]["wsBlock"] > 0
    # viem multicall through the Multicall3 predeploy answers what a direct read does
    multicall = report["viem"]["multicall"]
    assert multicall["balance"] == multicall["direct"] and multicall["timestamp"] > 0
    # ethers provider.getSigner(): the node's dev account sends and signs (as Anvil's do)
    signer = accounts[2].address
    assert report["signer"] == {**report["signer"], "address": signer, "status": 1, "from": signer,
                                "messageSigner": signer, "typedSigner": signer}
