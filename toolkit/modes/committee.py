"""Mode `committee`: M-of-N fixed operators, the leader rotates round robin per epoch."""

from __future__ import annotations

from typing import Any

from toolkit.modes.base import Mode, RegistrySettings


class CommitteeMode(Mode):
    name = "committee"
    registry_contract = "CommitteeRegistry"
    description = "M-of-N fixed operators, round-robin leader; L1 checks M signatures"
    attests = True
    rotates = True

    def registry_constructor(self, factory: Any, admin: str, operators: list[str], settings: RegistrySettings) -> Any:
        threshold = settings.committee_threshold or len(operators) // 2 + 1
        return factory.constructor(admin, settings.epoch_length, settings.liveness_timeout, operators, threshold)

    async def validators(self, registry: Any, chain_id: int, block: bytes) -> list[str]:
        return list(await registry.functions.committee().call(block_identifier=block))
