"""The state file (.devnet/state.json): endpoints, addresses, keys and pids of a running devnet."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

MIN_FREE_BYTES = 50 * 1024 * 1024  # logs, node journals and the state file of a devnet run


class StateError(RuntimeError):
    pass


def check_state_dir(path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Make sure `path` can hold a devnet's state and logs; raise StateError saying why not."""
    if path.exists() and not path.is_dir():
        raise StateError(f"state dir {path} is a file, not a folder: remove it or choose another --state-dir")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot create the state dir {path}: {_why(exc)}") from exc
    probe = path / f".write-probe-{os.getpid()}"
    try:
        with probe.open("wb") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise StateError(f"cannot write in the state dir {path}: {_why(exc)}") from exc
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    free = shutil.disk_usage(path).free
    if free < min_free_bytes:
        raise StateError(f"the disk of the state dir {path} is full: {free // (1024 * 1024)} MB free, "
                         f"a devnet needs {min_free_bytes // (1024 * 1024)} MB")


def _why(exc: OSError) -> str:
    reasons = {errno.EROFS: "it is on a read-only file system", errno.ENOSPC: "no space left on the disk",
               errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
               errno.ENOTDIR: "a part of the path is a file, not a folder", errno.EDQUOT: "disk quota exceeded"}
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomic write, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise StateError(f"no devnet state at {path}: is a devnet up? (`devnet up`)") from exc
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read devnet state {path}: {exc}") from exc
