"""toolkit.testing.waits.wait_for_event: waits for one specific notice, not for any new one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from toolkit.testing import wait_for_event


@dataclass
class Notices:
    notices: list[dict[str, Any]] = field(default_factory=list)


def test_returns_the_first_matching_notice_even_if_it_came_before_the_call() -> None:
    source = Notices([{"reason": "rotation", "epoch": 1}, {"reason": "slashed", "epoch": 2}])
    assert wait_for_event(source, lambda n: n["reason"] == "slashed", timeout=0) == {
        "reason": "slashed",
        "epoch": 2,
    }


def test_since_skips_notices_that_arrived_before_the_action() -> None:
    source = Notices([{"epoch": 1}, {"epoch": 2}])
    with pytest.raises(AssertionError, match="the epoch-1 notice; 1 other notice"):
        wait_for_event(source, lambda n: n["epoch"] == 1, since=1, timeout=0, what="the epoch-1 notice")


def test_timeout_names_what_arrived_instead() -> None:
    source = Notices([{"reason": "rotation"}])
    with pytest.raises(AssertionError, match="rotation"):
        wait_for_event(source, lambda n: n["reason"] == "timeout", timeout=0, what="a timeout handoff")
