"""Devnet configurations for tests: free ports, short batch intervals, so L1 effects show quickly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from devnet.config import (
    BatcherSettings,
    ChainSettings,
    DevnetConfig,
    L1Settings,
    L2Settings,
    NodeSettings,
    SequencerSettings,
)


def fast_config(
    state_dir: Path,
    mode: str = "single",
    sequencers: int = 3,
    epoch_length: int = 32,
    liveness_timeout: int = 8,
    chains: tuple[int, ...] = (),
    **l2: Any,
) -> DevnetConfig:
    """A devnet on free ports with short batch intervals, so tests see L1 effects quickly
    (`chains`: several L2 chain ids; default one chain, [l2] chain_id)."""
    return DevnetConfig(
        state_dir=state_dir,
        mode=mode,
        sequencers=SequencerSettings(count=sequencers, liveness_timeout=liveness_timeout),
        l1=L1Settings(port=0, block_time=1.0, epoch_length=epoch_length),
        l2=replace(L2Settings(), **l2),
        nodes=NodeSettings(gateway_port=0, sequencer_port=0, verifier_port=0),
        batcher=BatcherSettings(max_blocks=4, max_seconds=1.5),
        chains=tuple(ChainSettings(chain_id) for chain_id in chains),
    ).validate()
