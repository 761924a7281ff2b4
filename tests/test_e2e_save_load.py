"""`devnet save DIR` / `devnet up --load DIR`: a devnet with a user's set-up in it, saved and started again.

The save is the L1 with its history; every node re-derives each L2 from it, and the loaded devnet is
checked block for block against the saved safe head. The devnet makes 0.2 s blocks, so several blocks
share a second's timestamp, and those too are batched, attested, derived and re-derived alike. Also through the pytest plugin (`devnet_load`),
which is what lets a test suite skip its set-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from devnet.network import DevnetError
from devnet.saved import SavedDevnet
from toolkit.accounts import dev_accounts
from toolkit.testing import fast_config, wait_for
from toolkit.testing.running import running_devnet

USER = dev_accounts(10)[3]
DEAD = "0x000000000000000000000000000000000000dEaD"
# init code of a contract whose runtime returns the 32-byte word 42 to any call
RETURNS_42_INIT = bytes.fromhex("600a600c600039600a6000f3" + "602a60005260206000f3")
FREE_PORTS = ["--l1-port", "0", "--gateway-port", "0", "--sequencer-port", "0", "--verifier-port", "0"]


def _send(w3: Web3, tx: dict) -> dict:
    account = Account.from_key(USER.private_key)
    tx = {"gas": 200_000, "gasPrice": w3.eth.gas_price, "chainId": w3.eth.chain_id,
          "nonce": w3.eth.get_transaction_count(account.address, "pending"), **tx}
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return dict(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devnet.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.mark.slow
def test_a_saved_devnet_starts_again_with_every_block_and_goes_on(tmp_path: Path) -> None:
    config = fast_config(tmp_path / "run", block_time=0.2)
    save_dir = tmp_path / "save"
    with running_devnet(config) as network:
        w3 = Web3(HTTPProvider(network.gateway_url))
        deployed = _send(w3, {"data": "0x" + RETURNS_42_INIT.hex()})  # a user's set-up: a contract and a payment
        paid = _send(w3, {"to": DEAD, "value": 12_345})

        def two_blocks_share_a_second() -> bool:
            head = w3.eth.get_block("latest")
            parent = w3.eth.get_block(head["parentHash"])
            assert head["timestamp"] <= time.time(), "L2 time ran ahead of the wall clock"
            return head["timestamp"] == parent["timestamp"]

        wait_for(two_blocks_share_a_second, timeout=30, what="two 0.2 s blocks in one second")
        saved_cli = _cli("--state-dir", str(config.state_dir), "save", str(save_dir))
        assert saved_cli.returncode == 0, saved_cli.stderr + saved_cli.stdout
        l1 = Web3(HTTPProvider(network.state["l1"]["rpc"]))
        saved = SavedDevnet.read(save_dir)
        l1_hash = l1.eth.get_block(saved.l1_block)["hash"]
        assert saved.heads[901].number >= paid["blockNumber"]  # the save waited for the payment to be on L1
        paid_block_hash = w3.eth.get_block(paid["blockNumber"])["hash"]

    # `devnet up --detach --load`, as the README says, into the same state dir: the nodes' signing
    # journals of the first run must not be taken for this run's blocks (same chain, same Inbox address).
    state_dir = str(config.state_dir)
    up = _cli("--state-dir", state_dir, "up", "--detach", "--load", str(save_dir), *FREE_PORTS)
    assert up.returncode == 0, up.stderr + up.stdout
    try:
        state = json.loads((config.state_dir / "state.json").read_text())
        assert state["loaded_from"] == str(save_dir.resolve())
        w3 = Web3(HTTPProvider(state["chains"][0]["rpc"]))
        l1 = Web3(HTTPProvider(state["l1"]["rpc"]))
        assert l1.eth.get_block(saved.l1_block)["hash"] == l1_hash  # the L1 history itself, not a replay
        assert w3.eth.get_transaction_receipt(paid["transactionHash"])["blockHash"] == paid_block_hash
        assert w3.eth.get_balance(DEAD) == 12_345
        assert int.from_bytes(w3.eth.call({"to": deployed["contractAddress"]}), "big") == 42
        after = _send(w3, {"to": DEAD, "value": 1})  # the loaded devnet goes on: builds, batches, derives
        wait_for(lambda: w3.eth.get_block("safe")["number"] >= after["blockNumber"], timeout=60,
                 what="a block of the loaded devnet to be safe on the loaded L1")
        verifier = Web3(HTTPProvider(next(n["rpc"] for n in state["chains"][0]["nodes"] if n["role"] == "verifier")))
        assert verifier.eth.get_block(after["blockNumber"])["hash"] == w3.eth.get_block(after["blockNumber"])["hash"]
        journals = list((config.state_dir / "nodes").glob("sequencer-*/signed-blocks-901.jsonl"))
        assert journals and all(json.loads(path.read_text().splitlines()[0])["number"] > saved.heads[901].number
                                for path in journals if path.stat().st_size), "a journal of the first run was kept"
        assert "RE-SIGNING" not in (config.state_dir / "logs" / "sequencer-0.log").read_text()
    finally:
        down = _cli("--state-dir", state_dir, "down")
    assert down.returncode == 0, down.stderr

    # Through the pytest plugin: a project's suite starts the saved devnet and finds its set-up there.
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text(f"[pytest]\ndevnet_load = {save_dir}\n")
    (project / "test_setup_is_there.py").write_text(textwrap.dedent(f"""
        import pytest

        @pytest.mark.devnet(mode="single")
        def test_the_payment_is_there(l2):
            assert l2.eth.get_balance("{DEAD}") == 12_345
            assert int.from_bytes(l2.eth.call({{"to": "{deployed['contractAddress']}"}}), "big") == 42
    """))
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "toolkit.testing.plugin", "-q", "-p", "no:cacheprovider"],
                         cwd=project, capture_output=True, text=True, timeout=180,
                         env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr

    # A damaged save is a clear error, and nothing is left running.
    document = json.loads((save_dir / "devnet.json").read_text())
    document["chains"][0]["genesis_timestamp"] += 1
    (save_dir / "devnet.json").write_text(json.dumps(document))
    damaged = SavedDevnet.read(save_dir)
    with pytest.raises(DevnetError, match="genesis") as error:
        with running_devnet(saved.config(fast_config(tmp_path / "damaged")), saved=damaged):
            pass
    assert "damaged" in str(error.value)
    still_running = subprocess.run(["pgrep", "-f", str(save_dir / "l1-state.json")], capture_output=True, text=True)
    assert still_running.stdout == "", "the loaded Anvil outlived the failed start"


def test_save_and_load_refuse_clearly(tmp_path: Path) -> None:
    nothing = _cli("--state-dir", str(tmp_path / "none"), "save", str(tmp_path / "save"))
    assert nothing.returncode != 0 and "no devnet state" in nothing.stderr, nothing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = _cli("--state-dir", str(tmp_path / "st"), "up", "--load", str(empty))
    assert missing.returncode != 0 and "holds no saved devnet" in missing.stderr, missing.stderr
    changed = _cli("--state-dir", str(tmp_path / "st"), "up", "--load", str(empty), "--mode", "pos")
    assert changed.returncode != 0 and "--mode cannot change a saved devnet" in changed.stderr, changed.stderr
    (empty / "devnet.json").write_text('{"format": "something else"}')
    foreign = _cli("--state-dir", str(tmp_path / "st"), "up", "--load", str(empty))
    assert foreign.returncode != 0 and "not a saved devnet of this version" in foreign.stderr, foreign.stderr
    for output in (nothing, missing, changed, foreign):
        assert "Traceback" not in output.stderr
