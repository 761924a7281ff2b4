"""A devnet for the length of a `with` block: up, yielded, always down (the fixture pattern of the suite)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from devnet.config import DevnetConfig
from devnet.network import Devnet


@contextmanager
def running_devnet(config: DevnetConfig) -> Iterator[Devnet]:
    network = Devnet(config)
    network.up()
    try:
        yield network
    finally:
        network.down()
