"""The rollup_ namespace: who sequences, where each head is."""

from __future__ import annotations

from typing import Any, Protocol

from toolkit.rpc.server import Handler


class RollupNodeView(Protocol):
    chain_id: int
    sequencer_address: str | None
    epoch: int

    def sync_status(self) -> dict[str, Any]: ...


class RollupApi:
    def __init__(self, node: RollupNodeView, mode: str = "single") -> None:
        self.node = node
        self.mode = mode

    def methods(self) -> dict[str, Handler]:
        return {"rollup_syncStatus": self.rollup_syncStatus, "rollup_sequencer": self.rollup_sequencer}

    async def rollup_syncStatus(self, params: list[Any]) -> dict[str, Any]:
        return self.node.sync_status()

    async def rollup_sequencer(self, params: list[Any]) -> dict[str, Any]:
        return {
            "chainId": self.node.chain_id,
            "mode": self.mode,
            "sequencer": self.node.sequencer_address,
            "epoch": self.node.epoch,
            "nextHandoffL1Block": None,  # a single sequencer never hands off on its own
        }
