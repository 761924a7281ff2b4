"""Mode `pos`: bonded validators, a stake-weighted leader per epoch, 2/3-stake attestations, slashing."""

from __future__ import annotations

from typing import Any

from toolkit.modes.base import Mode, RegistrySettings, Send


class PosMode(Mode):
    name = "pos"
    registry_contract = "StakingRegistry"
    description = "staked validators, stake-weighted rotation; L1 checks the leader and 2/3 of stake"
    attests = True
    rotates = True
    stakes = True

    def registry_constructor(self, factory: Any, admin: str, operators: list[str], settings: RegistrySettings) -> Any:
        return factory.constructor(
            admin, settings.epoch_length, settings.liveness_timeout, settings.min_stake_wei,
            settings.unbonding_delay, settings.reporter_share_bps,
        )

    def setup_registry(
        self, send: Send, registry: Any, inbox: str, chain_ids: list[int], admin_key: str, operator_keys: list[str],
        settings: RegistrySettings,
    ) -> None:
        super().setup_registry(send, registry, inbox, chain_ids, admin_key, operator_keys, settings)
        for key in operator_keys:
            send(key, registry.functions.stake().build_transaction({"value": settings.stake_wei, "gas": 300_000}))

    async def validators(self, registry: Any, chain_id: int, block: bytes) -> list[str]:
        return list(await registry.functions.activeValidators().call(block_identifier=block))

    def validator_row(self, registry: Any, address: str) -> dict[str, Any]:
        stake, withdrawable_at, active, jailed = registry.functions.validators(address).call()
        return {"stake_eth": stake / 10**18, "active": active, "jailed": jailed,
                "unbonding_until": withdrawable_at or None}
