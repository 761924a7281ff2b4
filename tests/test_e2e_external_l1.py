"""`devnet up --l1-rpc URL --l1-key KEY`: the devnet deploys to an L1 it did not start (here an Anvil
started separately, as a user's own would be), uses it for batches, and leaves it running at `down`.
Bad settings are one clear line each and start nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import rpc_call
from toolkit.accounts import dev_accounts
from toolkit.testing import wait_for
from toolkit.testing.anvil import running_anvil

FUNDED_KEY = dev_accounts(1)[0].private_key  # Anvil's first account, a well-known key
OWN = Account.from_key("0x" + "5a" * 32)  # the user's own funded key (funded on their L1 below)
FREE_PORTS = ["--gateway-port", "0", "--sequencer-port", "0", "--verifier-port", "0"]
SENDER = dev_accounts(10)[3]


def devnet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devnet.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.mark.slow
def test_up_on_an_existing_l1_posts_batches_there_and_down_leaves_it_running(tmp_path: Path) -> None:
    with running_anvil(tmp_path, "--block-time", "1", "--chain-id", "1337") as l1_url:
        rpc_call(l1_url, "anvil_setBalance", [OWN.address, hex(200 * 10**18)])
        state_dir = tmp_path / "devnet"
        up = devnet("--state-dir", str(state_dir), "up", "--detach", "--mode", "pos", "--l1-rpc", l1_url, *FREE_PORTS,
                    env={"DEVNET_L1_KEY": OWN.key.hex()})
        assert up.returncode == 0, up.stderr + up.stdout
        try:
            state = json.loads((state_dir / "state.json").read_text())
            assert state["l1"] == {**state["l1"], "rpc": l1_url, "chain_id": 1337, "external": True, "pid": None}
            assert all(node["admin"] is None for node in state["chains"][0]["nodes"])  # test controls off
            logs = "".join(path.read_text(errors="replace") for path in (state_dir / "logs").glob("*.log"))
            shown = logs + up.stdout + up.stderr + (state_dir / "state.json").read_text()
            assert OWN.key.hex().removeprefix("0x") not in shown  # the key is never written or shown
            status = devnet("--state-dir", str(state_dir), "status", "--json")
            assert status.returncode == 0 and json.loads(status.stdout)["l1"]["healthy"], status.stderr
            l1 = Web3(HTTPProvider(l1_url))
            assert l1.eth.get_code(state["contracts"]["Inbox"]) != b""
            # a transfer through the gateway lands and is posted to that L1: the verifier derives it
            gateway = Web3(HTTPProvider(state["chains"][0]["rpc"]))
            tx = {"type": 2, "chainId": 901, "nonce": 0, "to": SENDER.address, "value": 5, "gas": 21_000,
                  "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
            tx_hash = gateway.eth.send_raw_transaction(Account.sign_transaction(tx, SENDER.private_key).raw_transaction)
            number = gateway.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.2)["blockNumber"]
            verifier = next(n["rpc"] for n in state["chains"][0]["nodes"] if n["name"] == "verifier-0")
            wait_for(lambda: rpc_call(verifier, "rollup_syncStatus")["safeL2"]["number"] >= number, timeout=60,
                     what="the verifier to derive the transfer's block from the existing L1")
        finally:
            down = devnet("--state-dir", str(state_dir), "down")
            assert down.returncode == 0, down.stderr
        assert rpc_call(l1_url, "eth_chainId") == hex(1337)  # not ours to stop


def test_bad_external_l1_settings_are_one_clear_line(tmp_path: Path) -> None:
    base = ["--state-dir", str(tmp_path), "up", "--detach", *FREE_PORTS]
    no_key = devnet(*base, "--l1-rpc", "http://127.0.0.1:9")
    assert no_key.returncode != 0 and "l1.rpc_url needs l1.key (--l1-key)" in no_key.stderr, no_key.stderr
    dead = devnet(*base, "--l1-rpc", "http://127.0.0.1:9", env={"DEVNET_L1_KEY": FUNDED_KEY})
    assert dead.returncode != 0 and "cannot reach the L1 at http://127.0.0.1:9" in dead.stderr + dead.stdout
    with running_anvil(tmp_path) as l1_url:
        poor = devnet(*base, "--l1-rpc", l1_url, env={"DEVNET_L1_KEY": "0x" + "42" * 32})
        assert poor.returncode != 0 and "holds 0 ETH" in poor.stderr + poor.stdout, poor.stderr + poor.stdout
        assert FUNDED_KEY.removeprefix("0x") not in poor.stderr + poor.stdout
