"""Unusable state dirs are clear errors, not tracebacks: real paths on this machine's file systems."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from devnet.cli import main
from devnet.state import StateError, check_state_dir


def test_a_usable_dir_is_created_and_left_clean(tmp_path: Path) -> None:
    check_state_dir(tmp_path / "new" / "state")
    assert list((tmp_path / "new" / "state").iterdir()) == []


def test_a_file_or_a_path_through_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateError, match="is a file, not a folder"):
        check_state_dir(tmp_path / "file")
    with pytest.raises(StateError, match="a part of the path is a file, not a folder"):
        check_state_dir(tmp_path / "file" / "state")


def test_a_dir_that_cannot_be_written_is_refused() -> None:
    unwritable = Path("/sys/kernel")  # sysfs: not writable even for root
    if not unwritable.is_dir():
        pytest.skip("no sysfs on this machine")
    with pytest.raises(StateError, match="cannot write in the state dir /sys/kernel: permission denied"):
        check_state_dir(unwritable)


def test_a_full_disk_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="is full: .* MB free, a devnet needs"):
        check_state_dir(tmp_path, min_free_bytes=1 << 62)


def test_devnet_up_says_it_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    config = tmp_path / "devnet.toml"
    config.write_text(f"[devnet]\nstate_dir = '{tmp_path / 'file'}'\n")
    result = CliRunner().invoke(main, ["--config", str(config), "up"])
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert f"state dir {tmp_path / 'file'} is a file, not a folder" in result.output
