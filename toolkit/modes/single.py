"""Mode `single`: one operator key per chain, named by the devnet admin; no epochs to sync."""

from __future__ import annotations

from typing import Any

from toolkit.modes.base import Mode, RegistrySettings, Send


class SingleMode(Mode):
    name = "single"
    registry_contract = "SequencerRegistry"
    description = "one operator key; L1 checks the sender"

    def sequencer_count(self, configured: int) -> int:
        return 1

    def registry_constructor(self, factory: Any, admin: str, operators: list[str], settings: RegistrySettings) -> Any:
        return factory.constructor(admin, settings.epoch_length)

    def setup_registry(
        self, send: Send, registry: Any, inbox: str, chain_ids: list[int], admin_key: str, operator_keys: list[str],
        settings: RegistrySettings,
    ) -> None:
        from eth_account import Account

        operator = Account.from_key(operator_keys[0]).address
        for chain_id in chain_ids:
            send(admin_key, registry.functions.setSequencer(chain_id, operator).build_transaction({"gas": 200_000}))

    async def validators(self, registry: Any, chain_id: int, block: bytes) -> list[str]:
        # the operator is the only signer; the L1 block number does not matter in this registry
        return [await registry.functions.sequencerFor(chain_id, 0).call(block_identifier=block)]
