"""The state file (.devnet/state.json): endpoints, addresses, keys and pids of a running devnet."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class StateError(RuntimeError):
    pass


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
