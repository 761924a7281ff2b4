"""Why a node's loop cannot make progress: the last unexpected error of each loop, until it succeeds.

Loops (L1/derivation, block building, batches) log an unexpected error and go on; this keeps the
reason so that `rollup_syncStatus.stalled` and `devnet status` say why a head does not move.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stall:
    loop: str
    error: str
    since: float
    failures: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"loop": self.loop, "error": self.error, "since": int(self.since), "failures": self.failures}


@dataclass
class Stalls:
    _by_loop: dict[str, Stall] = field(default_factory=dict)

    def failed(self, loop: str, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"[:500]
        current = self._by_loop.get(loop)
        if current is None:
            self._by_loop[loop] = Stall(loop, error, time.time())
        else:
            current.error = error
            current.failures += 1

    def stalled_for(self, loop: str) -> float:
        """Seconds since `loop` last made progress, if it is failing now; 0 if it is not."""
        stall = self._by_loop.get(loop)
        return time.time() - stall.since if stall is not None else 0.0

    def progressed(self, loop: str) -> None:
        self._by_loop.pop(loop, None)

    def to_json(self) -> list[dict[str, Any]]:
        return [stall.to_json() for stall in self._by_loop.values()]
