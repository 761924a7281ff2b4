"""A devnet for the length of a `with` block: up, yielded, always down (the fixture pattern of the suite)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from devnet.config import DevnetConfig
from devnet.network import Devnet
from devnet.saved import SavedDevnet


@contextmanager
def running_devnet(config: DevnetConfig, saved: SavedDevnet | None = None) -> Iterator[Devnet]:
    """`saved`: start that saved devnet (`devnet up --load`) on `config`'s ports and state dir."""
    network = Devnet(config, saved=saved)
    network.up()
    try:
        yield network
    finally:
        network.down()
