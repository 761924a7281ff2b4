"""Figures for the devnet, each printed beside a reference measured in the same run.

    .venv/bin/python benchmarks/run.py [--transfers 1000] [--startups 5]

1. `devnet up` to ready (seconds, median of N), all processes real.
2. L2 transfers executed per second by py-evm for one block of N transfers,
   against Anvil mining the same N transfers (reference).
3. L1 calldata bytes and L1 gas per L2 transfer when those N transfers are posted as batches.
Nothing here asserts: these are numbers to watch, not tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from eth_account import Account
from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devnet.config import DevnetConfig, L1Settings, NodeSettings  # noqa: E402
from devnet.deploy import RegistrySettings, deploy_contracts  # noqa: E402
from devnet.network import Devnet, rpc_call  # noqa: E402
from devnet.supervisor import ManagedProcess, free_port  # noqa: E402
from toolkit.accounts import dev_accounts  # noqa: E402
from toolkit.batch import Batch, BatchBlock, encode_batch  # noqa: E402
from toolkit.l1.artifacts import find_foundry_tool, load_artifact  # noqa: E402
from toolkit.l2.chain_config import GenesisAccount, L2ChainConfig  # noqa: E402
from toolkit.l2.executor import BlockAttributes, L2Executor  # noqa: E402
from toolkit.sequencer.batcher import MAX_BATCH_BYTES  # noqa: E402

SENDERS = dev_accounts(10)


def signed_transfers(count: int, chain_id: int) -> list[bytes]:
    """`count` EIP-1559 transfers spread over 10 senders, as a wallet would sign them."""
    raws = []
    for index in range(count):
        sender = SENDERS[index % len(SENDERS)]
        tx = {"type": 2, "chainId": chain_id, "nonce": index // len(SENDERS), "to": SENDERS[(index + 1) % 10].address,
              "value": 1, "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
        raws.append(bytes(Account.sign_transaction(tx, sender.private_key).raw_transaction))
    return raws


def bench_startup(runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as state_dir:
            config = DevnetConfig(
                state_dir=Path(state_dir), l1=L1Settings(port=0), nodes=NodeSettings(gateway_port=0, sequencer_port=0, verifier_port=0)
            ).validate()
            network = Devnet(config)
            started = time.perf_counter()
            network.up()
            seconds.append(time.perf_counter() - started)
            network.down()
    return seconds


def bench_pyevm(raws: list[bytes]) -> float:
    config = L2ChainConfig(901, int(time.time()), tuple(GenesisAccount(a.address, 10**24) for a in SENDERS))
    executor = L2Executor(config)
    attributes = BlockAttributes(config.genesis_timestamp + 1, 0, b"\0" * 32)
    started = time.perf_counter()
    executed = executor.execute_block(executor.head, attributes, raws, strict=True)
    elapsed = time.perf_counter() - started
    assert len(executed.block.transactions) == len(raws), executed.skipped[:1]
    return len(raws) / elapsed


def with_anvil(work):  # type: ignore[no-untyped-def]
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        anvil = ManagedProcess(
            "anvil", [str(find_foundry_tool("anvil")), "--port", str(port), "--no-mining", "--silent",
                      "--gas-limit", "100000000"], Path(scratch) / "anvil.log",
        )
        anvil.start()
        url = f"http://127.0.0.1:{port}"
        try:
            anvil.wait_ready(lambda: rpc_call(url, "eth_chainId", timeout=1) is not None, 30)
            return work(url)
        finally:
            anvil.stop()


def bench_anvil(url: str, count: int) -> float:
    """Anvil (Rust, revm) mining the same transfers in one block: the reference."""
    w3 = Web3(HTTPProvider(url))
    for raw in signed_transfers(count, w3.eth.chain_id):
        w3.eth.send_raw_transaction(raw)
    started = time.perf_counter()
    rpc_call(url, "evm_mine", [], timeout=120)
    elapsed = time.perf_counter() - started
    mined = w3.eth.get_block("latest")
    assert len(mined["transactions"]) == count, len(mined["transactions"])
    return count / elapsed


def bench_l1_cost(url: str, raws: list[bytes]) -> tuple[int, int, int]:
    """Post the transfers as batches through the real Inbox; returns (batches, calldata bytes, gas)."""
    rpc_call(url, "evm_setAutomine", [True])
    operator = SENDERS[9]
    deployment = deploy_contracts(url, SENDERS[0].private_key, "single", 901, [operator.private_key],
                                  RegistrySettings(epoch_length=32))
    w3 = Web3(HTTPProvider(url))
    inbox = w3.eth.contract(address=deployment.inbox, abi=load_artifact("Inbox")["abi"])
    chunks, chunk = [], []
    for raw in raws:  # fill batches up to the batcher's size limit
        candidate = chunk + [raw]
        if chunk and len(_encode(candidate)) > MAX_BATCH_BYTES:
            chunks.append(chunk)
            candidate = [raw]
        chunk = candidate
    chunks.append(chunk)
    calldata, gas = 0, 0
    nonce = w3.eth.get_transaction_count(operator.address)
    for index, chunk in enumerate(chunks):
        data = _encode(chunk)
        tx = inbox.functions.postBatch(901, index + 1, index + 1, 0, data, b"").build_transaction(
            {"from": operator.address, "nonce": nonce + index, "gas": 5_000_000}
        )
        signed = Account.sign_transaction(tx, operator.private_key)
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
        assert receipt["status"] == 1
        calldata += len(tx["data"]) // 2 - 1
        gas += receipt["gasUsed"]
    return len(chunks), calldata, gas


def _encode(raws: list[bytes]) -> bytes:
    return encode_batch(Batch(901, 1, b"\0" * 32, (BatchBlock(1, 1, 0, 0, tuple(raws)),)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=1000)
    parser.add_argument("--startups", type=int, default=5)
    args = parser.parse_args()
    raws = signed_transfers(args.transfers, 901)
    raw_bytes = sum(len(r) for r in raws)

    startups = bench_startup(args.startups)
    print(f"devnet up -> ready          median {statistics.median(startups):.2f} s  "
          f"(min {min(startups):.2f}, max {max(startups):.2f}, n={len(startups)})")

    pyevm_tps = bench_pyevm(raws)
    anvil_tps = with_anvil(lambda url: bench_anvil(url, args.transfers))
    print(f"L2 execution, {args.transfers} transfers in one block")
    print(f"  py-evm (this devnet)      {pyevm_tps:10.0f} transfers/s")
    print(f"  Anvil (reference)         {anvil_tps:10.0f} transfers/s")
    print(f"  ratio py-evm / Anvil      {pyevm_tps / anvil_tps:10.4f}")

    batches, calldata, gas = with_anvil(lambda url: bench_l1_cost(url, raws))
    print(f"L1 cost of posting them ({batches} batch(es), zlib)")
    print(f"  calldata per transfer     {calldata / args.transfers:10.1f} bytes  "
          f"(raw signed tx {raw_bytes / args.transfers:.1f} bytes; ratio {calldata / raw_bytes:.3f})")
    print(f"  L1 gas per transfer       {gas / args.transfers:10.1f} gas  "
          f"(an L1 transfer costs 21000; ratio {gas / args.transfers / 21000:.4f})")


if __name__ == "__main__":
    main()
