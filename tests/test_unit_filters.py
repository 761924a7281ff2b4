"""Log filters are bounded: a per-node cap answered with -32005, and expiry of filters nobody polls."""

from __future__ import annotations

import time

import pytest

from toolkit.rpc.errors import LIMIT_EXCEEDED, SERVER_ERROR, RpcError
from toolkit.rpc.events import ChainEvents
from toolkit.rpc.filters import FilterManager


def test_the_filter_cap_answers_limit_exceeded_until_one_is_uninstalled() -> None:
    filters = FilterManager(ChainEvents(), max_filters=3)
    ids = [filters.new_block_filter(), filters.new_pending_filter(), filters.new_block_filter()]
    with pytest.raises(RpcError) as refused:
        filters.new_block_filter()
    assert refused.value.code == LIMIT_EXCEEDED and "too many filters" in refused.value.message
    assert filters.uninstall(ids[0])
    assert filters.new_pending_filter() not in ids


def test_an_unpolled_filter_expires_while_a_polled_one_lives() -> None:
    timeout = 0.2
    filters = FilterManager(ChainEvents(), max_filters=2, timeout=timeout)
    started = time.monotonic()
    idle, polled = filters.new_block_filter(), filters.new_block_filter()
    while filters.live_count() == 2:
        assert time.monotonic() - started < 10, "the idle filter never expired"
        assert filters.changes(polled) == []  # polling keeps it alive
    assert time.monotonic() - started >= timeout
    with pytest.raises(RpcError) as gone:
        filters.changes(idle)
    assert gone.value.code == SERVER_ERROR and gone.value.message == "filter not found"
    assert filters.changes(polled) == []
    assert filters.new_block_filter()  # the expired one no longer counts against the cap
