"""The committed contract artifacts are what contracts/ compiles to, and the Solidity tests pass."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from toolkit.l1.artifacts import REPO_ROOT, check_artifacts, find_foundry_tool


def test_committed_artifacts_match_the_sources() -> None:
    assert check_artifacts() == []


@pytest.mark.slow
def test_the_check_fails_when_a_source_changes_without_a_rebuild(tmp_path: Path) -> None:
    check_artifacts()  # forge's cache of the unchanged sources, copied below: only Inbox.sol compiles again
    for item in ("contracts", "foundry.toml", "out", "cache"):
        source = REPO_ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / item)
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy(REPO_ROOT / "tools" / "solc", tools / "solc")
    (tools / "node_modules").symlink_to(REPO_ROOT / "tools" / "node_modules")
    inbox = tmp_path / "contracts" / "src" / "Inbox.sol"
    inbox.write_text(inbox.read_text().replace(
        "    /// @notice The registry that names the sequencer.",
        "    /// @notice A change someone forgot to rebuild.\n    uint256 public constant FORGOTTEN = 1;\n\n"
        "    /// @notice The registry that names the sequencer.",
    ))
    differences = check_artifacts(tmp_path)
    assert any(d.startswith("Inbox.abi") for d in differences) and any("Inbox.bytecode" in d for d in differences)


@pytest.mark.slow
def test_solidity_tests_pass() -> None:
    result = subprocess.run([str(find_foundry_tool("forge")), "test"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
