"""Pure parts of mode auction: bid strategies, the auction timeline, why a leader leads, config checks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from devnet.config import AuctionSettings, ConfigError, DevnetConfig, load_config
from toolkit.modes import MODES, mode_named
from toolkit.modes.auction import auction_phase, leader_reason
from toolkit.node.config import NodeConfigError
from toolkit.sequencer.bidder import StrategyError, close_block, commit_epoch, parse_strategy


def test_strategies_parse_to_amounts() -> None:
    assert parse_strategy("off").amount_for(3) == 0
    assert parse_strategy("fixed 0.25").amount_for(3) == 25 * 10**16
    assert parse_strategy("fixed 1").amount_for(9) == 10**18
    assert parse_strategy("value", expected_mev_wei=10**16, shading=0.8).amount_for(1) == 8 * 10**15


@pytest.mark.parametrize("text", ["", "bid", "fixed", "fixed x", "fixed -1", "fixed 0", "fixed 1e-30", "value 3",
                                  "off now", "fixed 1 2"])
def test_bad_strategies_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(StrategyError, match="strategy"):
        parse_strategy(text)


def test_value_strategy_needs_a_shading_in_range() -> None:
    with pytest.raises(StrategyError, match="shading"):
        parse_strategy("value", expected_mev_wei=10, shading=1.5)


def test_commit_epoch_is_the_first_one_still_open() -> None:
    # epochs of 8 blocks, bidding closes 6 blocks before the start
    for pending in range(0, 100):
        epoch = commit_epoch(pending, 8, 6)
        assert pending < close_block(epoch, 8, 6), pending  # still open
        assert epoch == 1 or pending >= close_block(epoch - 1, 8, 6), pending  # the earliest such


def test_auction_phases_follow_the_timeline() -> None:
    # epoch 5 of 10-block epochs: closes at 46, reveals 46-47, settle from 48
    assert [auction_phase(5, head, 10, 4, 2, False) for head in (40, 45, 46, 47, 48)] == [
        "bidding", "bidding", "revealing", "revealing", "awaiting settlement"]
    assert auction_phase(5, 48, 10, 4, 2, True) == "settled"


def test_leader_reason_names_the_auction_or_the_fallback() -> None:
    assert leader_reason("0xAb", "0xab", True) == "won the epoch's auction"
    assert "timed out" in leader_reason("0xCd", "0xab", True)
    assert "no valid bid" in leader_reason("0xCd", None, True)
    assert "not settled" in leader_reason("0xCd", None, False)


def test_auction_mode_is_in_the_table_with_its_registry() -> None:
    mode = mode_named("auction")
    assert MODES["auction"] is type(mode)
    assert mode.registry_contract == "SequencerAuction" and mode.attests and mode.rotates and mode.stakes


def test_auction_config_is_validated(tmp_path: Path) -> None:
    good = DevnetConfig(mode="auction").validate()
    assert good.auction.strategy_of(4) == good.auction.strategies[1]
    for bad, message in [
        ({"reveal_window": 0}, "reveal_window"), ({"close_offset": 3, "reveal_window": 3}, "close_offset"),
        ({"penalty_bps": 10_001}, "penalty_bps"), ({"burn_bps": -1}, "burn_bps"),
        ({"strategies": []}, "at least one"), ({"strategies": ["fixed nothing"]}, "strategies"),
        ({"shading": 0.0}, "shading"),
    ]:
        with pytest.raises(ConfigError, match=message):
            replace(good, auction=replace(AuctionSettings(), **bad)).validate()
    path = tmp_path / "devnet.toml"
    path.write_text('[devnet]\nmode = "auction"\n[auction]\nstrategies = ["fixed 0.5", "off"]\nreveal_window = 4\n')
    assert load_config(path).auction.strategies == ["fixed 0.5", "off"]
    path.write_text('[auction]\nreveal_windows = 4\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(path)


def test_node_config_refuses_a_bad_strategy() -> None:
    from toolkit.l2.chain_config import L2ChainConfig
    from toolkit.node.config import NodeConfig

    with pytest.raises(NodeConfigError, match="strategy"):
        NodeConfig(name="s", role="verifier", chain=L2ChainConfig(901, 0, ()), l1_rpc_url="http://x",
                   inbox_address="0x" + "00" * 20, registry_address="0x" + "00" * 20, bid_strategy="all in")
