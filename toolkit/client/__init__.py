"""Helpers for client developers: `ChainWatcher` (toolkit/client/watcher.py) surfaces sequencer changes,
liveness alarms and each tracked transaction's confirmation level (unsafe -> safe -> finalized, or
dropped in a reorg and re-sent)."""

from toolkit.client.watcher import ChainWatcher, ClientEvent

__all__ = ["ChainWatcher", "ClientEvent"]
