"""Helpers for the devnet's tests, shared by tests/ and (later) a pytest plugin.

One module per job:
    config         fast_config: a devnet on free ports with short batch intervals
    waits          wait_for, wait_for_event: poll until a condition holds, or a specific notice arrives
    subscriptions  SubscriptionCollector: a WebSocket subscription collected in a thread
    rpc            safe_number, raw_receipt: raw JSON-RPC reads
    l2             CHAIN_ID, ACCOUNTS, chain_config, transfer: an in-process L2 chain
    l1_events      l1_changes: SequencerChanged events read from L1
    chain          new_state, build_block, batch_of, batch_data: an L2 chain built in process
    memory_l1      InMemoryL1: what Derivation reads from L1, held in memory
    poster         RecordingPoster: what a Batcher posts to L1, recorded (and refused on demand)
    signing        sign_block: block signatures for gossip tests, made in one place
    clock          FakeClock: time that moves only when a test says so
"""

from toolkit.testing.chain import batch_data, batch_of, build_block, new_state, next_attributes
from toolkit.testing.clock import FakeClock
from toolkit.testing.config import fast_config
from toolkit.testing.l1_events import l1_changes
from toolkit.testing.l2 import ACCOUNTS, CHAIN_ID, GENESIS_TIMESTAMP, chain_config, transfer
from toolkit.testing.memory_l1 import InMemoryL1
from toolkit.testing.poster import PostCall, RecordingPoster
from toolkit.testing.rpc import raw_receipt, safe_number
from toolkit.testing.signing import DOMAIN, sign_block
from toolkit.testing.subscriptions import SubscriptionCollector
from toolkit.testing.waits import wait_for, wait_for_event

__all__ = [
    "ACCOUNTS",
    "CHAIN_ID",
    "GENESIS_TIMESTAMP",
    "FakeClock",
    "InMemoryL1",
    "PostCall",
    "RecordingPoster",
    "SubscriptionCollector",
    "batch_data",
    "batch_of",
    "build_block",
    "chain_config",
    "fast_config",
    "l1_changes",
    "new_state",
    "next_attributes",
    "raw_receipt",
    "safe_number",
    "DOMAIN",
    "sign_block",
    "transfer",
    "wait_for",
    "wait_for_event",
]
