"""An owned Anvil process for tests and benchmarks: free port, waited for, log kept, always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devnet.rpc import rpc_call
from devnet.supervisor import ManagedProcess, free_port
from toolkit.l1.artifacts import find_foundry_tool

READY_SECONDS = 60.0


@contextmanager
def running_anvil(work_dir: Path, *args: str) -> Iterator[str]:
    """Start `anvil --port <free> --silent *args`; yields its URL and stops it on exit."""
    port = free_port()
    process = ManagedProcess("anvil", [str(find_foundry_tool("anvil")), "--port", str(port), "--silent", *args],
                             work_dir / f"anvil-{port}.log")
    process.start()
    try:
        url = f"http://127.0.0.1:{port}"
        process.wait_ready(lambda: rpc_call(url, "eth_chainId", timeout=1) is not None, READY_SECONDS)
        yield url
    finally:
        process.stop()
