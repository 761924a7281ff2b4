"""The mode seam: every mode is a class in toolkit/modes chosen from MODES, and nothing else branches on a
mode's name or on a registry contract's name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolkit.l1.artifacts import REPO_ROOT, load_artifact
from toolkit.modes import MODES, Mode, UnknownMode, mode_named

# a comparison with a mode or registry name: mode == "pos", contract != "StakingRegistry", ...
BRANCH = re.compile(r"""[!=]=\s*["'](single|committee|pos|auction|shared|\w+Registry)["']"""
                    r"""|["'](single|committee|pos|auction|shared|\w+Registry)["']\s*[!=]=""")


def test_every_mode_is_a_class_from_the_table_with_a_real_registry() -> None:
    assert list(MODES) == ["single", "committee", "pos", "auction", "shared"]
    for name, cls in MODES.items():
        mode = mode_named(name)
        assert isinstance(mode, Mode) and type(mode) is cls and mode.name == name
        abi = load_artifact(mode.registry_contract)["abi"]
        functions = {item["name"] for item in abi if item.get("type") == "function"}
        assert {"sequencerFor", "epochLength", "onBatch"} <= functions
        if mode.rotates:
            assert {"schedules", "livenessTimeout", "syncEpoch", "reportTimeout"} <= functions
        if mode.stakes:
            assert {"slashEquivocation", "slashCensorship", "stake", "requestUnstake"} <= functions
        if mode.auctions:
            assert {"commitBid", "revealBid", "settle", "claim", "auctionOf", "winnerOf"} <= functions
    with pytest.raises(UnknownMode, match="mode 'nope' is not available; choose one of single, committee, pos, auction, shared"):
        mode_named("nope")


def test_nothing_outside_the_modes_branches_on_a_mode_name() -> None:
    offenders = []
    for folder in ("toolkit", "devnet"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            if Path("toolkit/modes") in path.relative_to(REPO_ROOT).parents:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if BRANCH.search(line):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_check_would_see_a_branch() -> None:
    assert BRANCH.search('if config.mode == "pos":') and BRANCH.search("'StakingRegistry' != contract")
    assert not BRANCH.search('mode: str = "single"')
