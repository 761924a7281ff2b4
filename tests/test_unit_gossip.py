"""GossipReceiver: which signed blocks a follower takes as its unsafe head, with real blocks, in process.

The leader's blocks are executed by its own L2Executor and signed with toolkit.testing.sign_block;
the follower re-executes them in another.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from eth_utils import keccak

from toolkit.accounts import DevAccount
from toolkit.forced_queue import ForcedEntry
from toolkit.l1.client import L1Block
from toolkit.l2.executor import ExecutedBlock
from toolkit.l2.signed_block import SignedBlock
from toolkit.modes import LeaderView
from toolkit.node.gossip import GossipReceiver, GossipRejected
from toolkit.rpc.events import BlockEvent
from toolkit.sequencer.leader_history import LeaderHistory
from toolkit.testing import (
    ACCOUNTS,
    CHAIN_ID,
    DOMAIN,
    GENESIS_TIMESTAMP,
    build_block,
    new_state,
    sign_block,
    transfer,
)

LEADER, OTHER, STRANGER = ACCOUNTS[0], ACCOUNTS[1], ACCOUNTS[2]
ORIGIN = L1Block(1, b"\x11" * 32, GENESIS_TIMESTAMP + 1)


def lead(receiver: GossipReceiver, signers: tuple[DevAccount, ...], leader: DevAccount | None) -> None:
    """Give the receiver a view of who leads, as the node's leadership would from L1."""
    view = LeaderView(ORIGIN, 0, 32, leader.address if leader is not None else None,
                      tuple(s.address for s in signers))
    receiver.view = lambda: view


def follower(*signers: DevAccount, leader: DevAccount | None = LEADER) -> GossipReceiver:
    receiver = GossipReceiver(CHAIN_ID, new_state(), DOMAIN)
    lead(receiver, signers, leader)
    return receiver


def chain_of(count: int, timestamp_offset: int = 0) -> list[ExecutedBlock]:
    """A leader's blocks 1..count with a transfer each (another offset: other blocks, other hashes)."""
    state = new_state()
    return [
        build_block(state, ORIGIN, [transfer(3, n)], timestamp=GENESIS_TIMESTAMP + 1 + n + timestamp_offset)
        for n in range(count)
    ]


def signed(executed: ExecutedBlock, signer: DevAccount = LEADER, **overrides: Any) -> SignedBlock:
    return sign_block(executed, signer.private_key, **overrides)


def test_sign_block_signs_as_the_node_does() -> None:
    leader = new_state()
    executed = build_block(leader, ORIGIN, [transfer(0, 0)])
    assert sign_block(executed, LEADER.private_key) == SignedBlock.create(
        DOMAIN, CHAIN_ID, executed, LEADER.private_key
    )


def test_block_from_an_allowed_signer_is_re_executed_and_becomes_the_unsafe_head() -> None:
    blocks, receiver = chain_of(2), follower(LEADER)
    assert receiver._accept(signed(blocks[0])) == "accepted"
    assert receiver._accept(signed(blocks[1])) == "accepted"
    assert receiver._accept(signed(blocks[1])) == "known"
    ours = receiver.state
    assert ours.unsafe_number == 2 and ours.safe_number == 0 and receiver.accepted == 2
    assert [ours.executor.canonical_hash(n) for n in (1, 2)] == [b.hash for b in blocks]


def test_receive_takes_the_json_message_peers_send() -> None:
    [block], receiver = chain_of(1), follower(LEADER)
    assert asyncio.run(receiver.receive({"block": signed(block).to_json()})) == "accepted"
    with pytest.raises(GossipRejected, match="malformed"):
        asyncio.run(receiver.receive({"block": {"number": 1}}))
    with pytest.raises(GossipRejected, match="malformed"):
        asyncio.run(receiver.receive({}))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda blocks: signed(blocks[0], STRANGER), "may not sequence"),
        (lambda blocks: signed(blocks[0], chain_id=902), "block for chain 902"),
        (lambda blocks: signed(blocks[0], block_hash=b"\x99" * 32), "hash differs from the signed one"),
        (lambda blocks: signed(blocks[1]), "unknown parent"),
        (lambda blocks: signed(blocks[0], raw_transactions=(transfer(3, 5),)), "does not execute"),
    ],
    ids=["unknown signer", "wrong chain", "bad hash", "unknown parent", "invalid transaction"],
)
def test_refused_blocks_change_nothing(make: Any, reason: str) -> None:
    blocks, receiver = chain_of(2), follower(LEADER)
    with pytest.raises(GossipRejected, match=reason):
        receiver._accept(make(blocks))
    assert receiver.state.unsafe_number == 0 and receiver.accepted == 0


def test_block_with_forced_entries_this_node_has_not_seen_is_refused() -> None:
    raw = transfer(1, 0)
    entry = ForcedEntry(0, keccak(raw), "0x" + "00" * 20, 1, 11, raw)
    leader = new_state()
    leader.forced_queue.add(entry)
    block = build_block(leader, ORIGIN, forced_end=1)
    receiver = follower(LEADER)
    with pytest.raises(GossipRejected, match="has seen 0 on L1 so far"):
        receiver._accept(signed(block))
    receiver.state.forced_queue.add(entry)  # once L1 showed it, the same block is fine
    assert receiver._accept(signed(block)) == "accepted"


def test_block_conflicting_with_the_safe_chain_is_refused_even_from_the_leader() -> None:
    receiver = follower(LEADER)
    ours = build_block(receiver.state, ORIGIN, timestamp=GENESIS_TIMESTAMP + 7)
    receiver.state.adopt_safe([ours], l1_block=2)
    with pytest.raises(GossipRejected, match="conflicts with the safe chain"):
        receiver._accept(signed(chain_of(1)[0]))
    assert receiver.state.executor.canonical_hash(1) == ours.hash


@pytest.mark.parametrize("current_leader", [LEADER, None], ids=["another leads", "leader unknown"])
def test_competing_block_from_a_validator_that_does_not_lead_is_refused(
    current_leader: DevAccount | None,
) -> None:
    receiver = follower(LEADER, OTHER, leader=LEADER)
    receiver._accept(signed(chain_of(1)[0]))
    lead(receiver, (LEADER, OTHER), current_leader)
    competing = signed(chain_of(1, timestamp_offset=5)[0], OTHER)
    with pytest.raises(GossipRejected, match="competes with ours"):
        receiver._accept(competing)
    assert receiver.state.reorg_count == 0


def test_competing_block_from_the_current_leader_replaces_ours() -> None:
    receiver = follower(LEADER, OTHER, leader=LEADER)
    old = chain_of(2)
    receiver._accept(signed(old[0]))
    receiver._accept(signed(old[1]))
    events: list[BlockEvent] = []
    receiver.state.events.listen(events.append)
    lead(receiver, (LEADER, OTHER), OTHER)  # a handoff: the new leader builds on block 1
    new = new_state()
    assert build_block(new, ORIGIN, [transfer(3, 0)], timestamp=GENESIS_TIMESTAMP + 1).hash == old[0].hash
    replacement = build_block(new, ORIGIN, [transfer(2, 0)], timestamp=GENESIS_TIMESTAMP + 9)
    assert receiver._accept(signed(replacement, OTHER)) == "accepted"
    state = receiver.state
    assert state.reorg_count == 1 and state.unsafe_number == 2
    assert state.executor.canonical_hash(2) == replacement.hash
    assert [(bytes(e.block.hash), e.removed) for e in events] == [
        (old[1].hash, True),
        (replacement.hash, False),
    ]


def test_a_block_under_a_number_not_its_own_is_refused() -> None:
    blocks, receiver = chain_of(2), follower(LEADER)
    receiver._accept(signed(blocks[0]))
    with pytest.raises(GossipRejected, match="claims number 5 but extends block 0"):
        receiver._accept(signed(blocks[0], number=5))  # signed as number 5, but its parent is genesis
    assert receiver.state.unsafe_number == 1


def test_gossip_checks_the_signature_before_fetching_and_only_from_the_signers_known_url() -> None:
    blocks, receiver = chain_of(2), follower(LEADER)
    asked: list[str] = []

    def peer_url(address: str) -> str | None:
        asked.append(address)
        return None  # no URL configured: nothing is fetched

    receiver.peer_url = peer_url
    forged = {"block": signed(blocks[1], STRANGER).to_json(), "from": "http://198.51.100.1:9"}
    with pytest.raises(GossipRejected, match="may not sequence"):
        asyncio.run(asyncio.wait_for(receiver.receive(forged), 5))
    assert asked == []  # refused before any URL was even looked up
    gap = {"block": signed(blocks[1]).to_json(), "from": "http://198.51.100.1:9"}  # parent unknown
    with pytest.raises(GossipRejected, match="unknown parent"):
        asyncio.run(asyncio.wait_for(receiver.receive(gap), 5))  # the caller's URL was never fetched
    assert asked == [LEADER.address]


def led_by(receiver: GossipReceiver, history: LeaderHistory) -> None:
    """Answer `led_since` from a LeaderHistory, as the node's Leadership does once L1 was read."""

    async def led_since(address: str, l1_number: int) -> bool:
        return history.led_from(address, l1_number)

    receiver.led_since = led_since


def test_a_validator_that_led_at_no_l1_block_since_the_origin_cannot_extend_the_chain() -> None:
    [block], receiver = chain_of(1), follower(LEADER, OTHER, leader=LEADER)
    history = LeaderHistory()
    history.record(ORIGIN.number, LEADER.address)
    led_by(receiver, history)
    seen: list[str] = []
    receiver.on_seen.append(lambda signed_block, signer: seen.append(signer))
    with pytest.raises(GossipRejected, match="not the leader L1 names for it"):
        asyncio.run(receiver.receive({"block": signed(block, OTHER).to_json()}))
    assert receiver.state.unsafe_number == 0 and receiver.accepted == 0
    assert seen == [OTHER.address]  # the watchtower still saw the signature (evidence if it equivocates)
    assert asyncio.run(receiver.receive({"block": signed(block).to_json()})) == "accepted"


def test_the_old_leaders_late_block_is_taken_after_the_lead_passed_on() -> None:
    blocks, receiver = chain_of(2), follower(LEADER, OTHER, leader=OTHER)
    history = LeaderHistory()
    history.record(ORIGIN.number, LEADER.address)  # LEADER led at the blocks' origin ...
    history.record(ORIGIN.number + 3, OTHER.address)  # ... and OTHER took over three L1 blocks later
    led_by(receiver, history)
    for block in blocks:
        assert asyncio.run(receiver.receive({"block": signed(block).to_json()})) == "accepted"
    assert receiver.state.unsafe_number == 2


def test_leader_history_answers_from_its_transitions() -> None:
    history = LeaderHistory()
    assert history.start is None and not history.led_from(LEADER.address, 0) and not history.covers(0)
    history.record(10, LEADER.address)
    history.record(11, LEADER.address.lower())  # the same leader: no transition
    history.record(20, None)
    history.record(25, OTHER.address)
    history.record(22, LEADER.address)  # an older read finishing late changes nothing
    assert history.start == 10 and history.covers(10) and not history.covers(9)
    assert history.led_from(LEADER.address, 19) and not history.led_from(LEADER.address, 20)
    assert history.led_from(OTHER.address, 0) and history.led_from(OTHER.address, 30)
    assert not history.led_from(STRANGER.address, 0)
    history.forget_after(24)  # the L1 block that named OTHER was orphaned
    assert not history.led_from(OTHER.address, 0)
    history.record(26, LEADER.address)
    assert history.led_from(LEADER.address, 30)
