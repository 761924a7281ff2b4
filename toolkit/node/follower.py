"""A chain follower: one L2 chain as every node sees it, keyed or not.

Executor, chain state, derivation from L1 (safe head), gossip receiving (unsafe head), the view of
who leads (`Leadership`), the block signatures seen, and the watchtower. Its L1 loop steps
derivation, then reads who leads at the L1 head; hooks let a sequencer role act on each step
(`after_l1_step`) and once caught up (`on_caught_up`). A verifier is a follower alone; a
sequencer node adds a `SequencerRole` (toolkit/sequencer/role.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from eth_account import Account

from toolkit.derivation import Derivation
from toolkit.l1.client import L1Block, L1Client
from toolkit.l2.executor import BlockAttributes, L2Executor
from toolkit.modes import mode_named
from toolkit.node.block_signatures import BlockSignatures
from toolkit.node.chain_state import ChainState
from toolkit.node.config import NodeConfig
from toolkit.node.gossip import GossipReceiver
from toolkit.node.stalls import Stalls
from toolkit.rpc.errors import INVALID_PARAMS, SERVER_ERROR, RpcError
from toolkit.rpc.events import ChainEvents
from toolkit.sequencer.leadership import Leadership
from toolkit.sequencer.watchtower import Watchtower
from toolkit.shared_batch import NamespaceError
from toolkit.signing import SigningDomain

log = logging.getLogger(__name__)

L1_DOWN_AFTER_SECONDS = 5.0  # an L1 loop failing this long makes the node not ready (L1 dead or a bug)


class ChainFollower:
    def __init__(self, config: NodeConfig, l1: L1Client | None = None) -> None:
        self.config = config
        self.chain_id = config.chain.chain_id
        self.mode = mode_named(config.mode)
        self.url = f"http://{config.host}:{config.port}"
        # one L1 client per process: the chains a process serves share its L1 key's nonces
        self.l1 = l1 or L1Client(config.l1_rpc_url, config.inbox_address, config.registry_address,
                                 self.mode.registry_contract)
        self.executor = L2Executor(config.chain)
        self.events = ChainEvents()
        self.state = ChainState(self.executor, self.events)
        self.derivation = Derivation(self.chain_id, self.state, self.l1, config.l1_start_block)
        self.domain = SigningDomain(config.l1_chain_id, config.inbox_address)
        self.signatures = BlockSignatures()
        self.address = Account.from_key(config.private_key).address if config.private_key else None
        self.leadership = Leadership(
            self.chain_id, self.mode, self.l1, self.state, self.signatures, self.address, config.private_key,
            dict(config.validator_urls), config.l1_start_block,
        )
        self.derivation.on_l1_reorg.append(self.leadership.after_l1_reorg)
        self.receiver = GossipReceiver(self.chain_id, self.state, self.domain)
        self.receiver.view = lambda: self.leadership.view
        self.receiver.peer_url = self.leadership.url_of
        self.receiver.led_since = self.leadership.led_since
        self.receiver.on_signed.append(self.signatures.add)
        self.watchtower: Watchtower | None = None
        if self.mode.stakes and config.watchtower:
            self.watchtower = Watchtower(self.chain_id, self.l1, config.private_key or config.reporter_key,
                                         self.address)
            self.receiver.on_seen.append(self.watchtower.observe)
        self.l1_head: L1Block | None = None
        self.stalls = Stalls()  # why a loop cannot progress (rollup_syncStatus.stalled)
        self.ready = asyncio.Event()
        self.after_l1_step: list[Callable[[], None]] = []
        self.on_caught_up: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    # ----- lifecycle -----
    def start(self) -> None:
        self._task = asyncio.create_task(self._l1_loop(), name=f"l1-{self.chain_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.receiver.close()
        await self.leadership.close()
        if self.watchtower is not None:
            await self.watchtower.close()
        if self._http is not None:
            await self._http.close()

    async def _l1_loop(self) -> None:
        while True:
            try:
                more = await self.derivation.step()
                head = self.derivation.l1_head
                assert head is not None
                if self.l1_head is None or head.hash != self.l1_head.hash or more:
                    # Who leads and what L1 marks late change only with L1's head: polls between
                    # L1 blocks stop here (an idle devnet's nodes would otherwise re-read it all 4x/s).
                    await self.leadership.observe(head)
                    for hook in self.after_l1_step:
                        hook()
                    if self.watchtower is not None:
                        await self._check_censorship()
                self.l1_head = head
                if not more and not self.ready.is_set():
                    for hook in self.on_caught_up:
                        hook()
                    self.ready.set()
                    log.info("node %s caught up with L1 at block %d (chain %d)", self.config.name,
                             self.l1_head.number, self.chain_id)
                self.stalls.progressed("l1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # L1 down or a bug: keep serving, retry, and say why in syncStatus
                self.stalls.failed("l1", exc)
                log.warning("L1 loop (chain %d): %s", self.chain_id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                more = False
            if not more:
                await asyncio.sleep(self.config.l1_poll_seconds)

    async def _check_censorship(self) -> None:
        """The watchtower's L1 reads must not hold up derivation or readiness when they fail."""
        assert self.watchtower is not None
        try:
            await self.watchtower.check_censorship(len(self.state.forced_queue.entries))
        except Exception as exc:
            log.warning("watchtower (chain %d): cannot check forced entries on L1 yet: %s", self.chain_id, exc)

    # ----- a follower sends transactions on to the leader -----
    async def forward_transaction(self, raw: bytes) -> bytes:
        target = self.leadership.url_of(self.leadership.leader) or self.config.sequencer_url
        if not target or target == self.url:
            raise RpcError(SERVER_ERROR, "this node does not sequence and knows no sequencer to forward to")
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        request = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]}
        try:
            async with self._http.post(target, json=request) as response:
                reply = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise RpcError(SERVER_ERROR, f"sequencer unreachable, transaction not accepted: {exc}") from exc
        if "error" in reply:
            raise RpcError(reply["error"].get("code", SERVER_ERROR), reply["error"].get("message", "rejected"))
        return bytes.fromhex(reply["result"][2:])

    @property
    def is_ready(self) -> bool:
        """Caught up with L1 once, and still reading it: with the L1 dead a node is not ready."""
        return self.ready.is_set() and self.stalls.stalled_for("l1") < L1_DOWN_AFTER_SECONDS

    # ----- what the RPC shows -----
    def block_signature(self, block_hash: bytes) -> dict[str, Any] | None:
        signature = self.signatures.by_hash(block_hash)
        return signature.to_json() if signature is not None else None

    async def namespaces(self, first_l1_block: int, last_l1_block: int, l1_tx_hash: bytes | None = None
                         ) -> list[dict[str, Any]]:
        """Our namespace of each shared batch in an L1 block range (or of the one in `l1_tx_hash`)."""
        if l1_tx_hash is not None:
            receipt = await self.l1.w3.eth.get_transaction_receipt(l1_tx_hash)
            if receipt is None:
                raise RpcError(INVALID_PARAMS, f"no L1 transaction 0x{l1_tx_hash.hex()} is mined")
            first_l1_block = last_l1_block = int(receipt["blockNumber"])
        reads = []
        for posted in await self.l1.shared_batches(first_l1_block, last_l1_block):
            if l1_tx_hash is not None and posted["l1TxHash"] != l1_tx_hash:
                continue
            try:
                read = await self.l1.read_namespace(posted["l1TxHash"], self.chain_id)
            except NamespaceError as exc:
                raise RpcError(SERVER_ERROR, f"shared batch {posted['sharedIndex']}: {exc}") from exc
            reads.append({
                "l1Block": posted["l1Block"], "l1TxHash": "0x" + posted["l1TxHash"].hex(),
                "sharedIndex": posted["sharedIndex"], "sender": posted["sender"],
                "segmentsHash": "0x" + posted["segmentsHash"].hex(), **read.to_json(),
            })
        return reads

    def forced_queue_status(self) -> list[dict[str, Any]]:
        return self.state.forced_queue.describe(self.derivation.l1_cursor, self.state.safe_number)

    def sync_status(self) -> dict[str, Any]:
        def head(number: int) -> dict[str, Any]:
            header = self.executor.header_by_number(number)
            attributes = BlockAttributes.from_header(header)
            return {
                "number": number,
                "hash": "0x" + bytes(header.hash).hex(),
                "timestamp": header.timestamp,
                "l1origin": {"number": attributes.l1_origin_number, "hash": "0x" + attributes.l1_origin_hash.hex()},
            }

        return {
            "node": self.config.name,
            "role": self.config.role,
            "address": self.address,
            "mode": self.mode.name,
            "chainId": self.chain_id,
            "unsafeL2": head(self.state.unsafe_number),
            "safeL2": head(self.state.safe_number),
            "finalizedL2": head(self.state.finalized_number),
            "headL1": {"number": self.l1_head.number, "hash": "0x" + self.l1_head.hash.hex()} if self.l1_head else None,
            "derivedL1": self.derivation.l1_cursor,
            "batchesDerived": self.derivation.batches_derived,
            "batchesSkipped": len(self.derivation.skipped),
            "blocksForcedByDerivation": self.derivation.blocks_forced,
            "forcedQueue": {"length": len(self.state.forced_queue.entries), "safeEnd": self.state.safe_forced_end},
            "skippedBatches": [
                {"l1TxHash": b.l1_tx_hash, "l1Block": b.l1_block, "reason": b.reason}
                for b in self.derivation.skipped[-20:]
            ],
            "reorgs": self.state.reorg_count,
            "l1Reorgs": self.derivation.l1_reorgs,
            "lastL1Reorg": self.derivation.last_l1_reorg,
            "watchtower": self.watchtower.evidence[-20:] if self.watchtower is not None else None,
            "ready": self.is_ready,
            "stalled": self.stalls.to_json(),
        }
