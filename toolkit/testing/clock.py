"""A clock tests move by hand, for code that reads `time.monotonic()` / `time.time()`.

Install it where the code looks the module up, e.g.
`monkeypatch.setattr(toolkit.sequencer.batcher, "time", FakeClock())`: only that module sees it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeClock:
    now: float = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
