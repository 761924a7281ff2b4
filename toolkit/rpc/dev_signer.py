"""The dev accounts as node accounts, as Anvil serves them: eth_accounts, eth_sendTransaction,
eth_sign, eth_signTypedData_v4 and eth_signTransaction (ethers `getSigner()`, `cast send --unlocked`).

The keys are the 10 accounts of the test mnemonic (toolkit/accounts.py), prefunded on every chain.
A request for any other address is refused with "unknown account", as geth.
"""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from toolkit.accounts import dev_accounts
from toolkit.l2.transactions import decode_raw_transaction
from toolkit.rpc import params as p
from toolkit.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from toolkit.rpc.formatters import data, format_transaction
from toolkit.rpc.server import Handler

DEV_ACCOUNT_COUNT = 10


class DevSigner:
    def __init__(self, eth: Any) -> None:
        self.eth = eth  # the node's EthApi: nonces, fees, estimates, submission
        self.keys = {a.address: a.private_key for a in dev_accounts(DEV_ACCOUNT_COUNT)}

    def methods(self) -> dict[str, Handler]:
        return {
            "eth_accounts": self.eth_accounts,
            "eth_sendTransaction": self.eth_sendTransaction,
            "eth_signTransaction": self.eth_signTransaction,
            "eth_sign": self.eth_sign,
            "personal_sign": self.personal_sign,
            "eth_signTypedData_v4": self.eth_signTypedData_v4,
        }

    def _key(self, value: Any) -> str:
        account = p.address(value, "from")
        if account not in self.keys:
            raise RpcError(SERVER_ERROR, "unknown account")
        return self.keys[account]

    async def eth_accounts(self, params: list[Any]) -> list[str]:
        return list(self.keys)

    async def _fill(self, request: Any) -> dict[str, Any]:
        """A transaction object completed as a wallet would (nonce, gas, fees, chain id, type)."""
        if not isinstance(request, dict):
            raise invalid_params("transaction object expected")
        sender = p.address(request.get("from"), "from")
        tx: dict[str, Any] = {"from": sender, "chainId": self.eth.executor.config.chain_id}
        if request.get("to"):
            tx["to"] = p.address(request["to"], "to")
        tx["value"] = p.quantity(request["value"], "value") if request.get("value") is not None else 0
        payload = request.get("input", request.get("data"))
        tx["data"] = p.hex_bytes(payload, "input") if payload else b""
        tx["nonce"] = (p.quantity(request["nonce"], "nonce") if request.get("nonce") is not None
                       else self.eth.node.pending_nonce(sender))
        if request.get("accessList") is not None:
            tx["accessList"] = request["accessList"]
        if request.get("gasPrice") is not None:
            tx["gasPrice"] = p.quantity(request["gasPrice"], "gasPrice")
        else:
            tip = p.quantity(request["maxPriorityFeePerGas"], "maxPriorityFeePerGas") if request.get(
                "maxPriorityFeePerGas") is not None else int(await self.eth.eth_maxPriorityFeePerGas([]), 16)
            tx["maxPriorityFeePerGas"] = tip
            tx["maxFeePerGas"] = p.quantity(request["maxFeePerGas"], "maxFeePerGas") if request.get(
                "maxFeePerGas") is not None else 2 * self.eth._next_base_fee() + tip
        if request.get("gas") is not None:
            tx["gas"] = p.quantity(request["gas"], "gas")
        else:
            call = {k: v for k, v in request.items() if k not in ("gas", "nonce")}
            tx["gas"] = int(await self.eth.eth_estimateGas([call, "pending"]), 16)
        return tx

    def _sign(self, tx: dict[str, Any]) -> bytes:
        key = self._key(tx["from"])
        unsigned = {k: v for k, v in tx.items() if k != "from"}
        return bytes(Account.sign_transaction(unsigned, key).raw_transaction)

    async def eth_sendTransaction(self, params: list[Any]) -> str:
        request = p.arg(params, 0, "transaction")
        self._key(request.get("from") if isinstance(request, dict) else None)
        raw = self._sign(await self._fill(request))
        return await self.eth.eth_sendRawTransaction([data(raw)])

    async def eth_signTransaction(self, params: list[Any]) -> dict[str, Any]:
        """geth's (and the execution-apis spec's) answer: the raw transaction and its object."""
        request = p.arg(params, 0, "transaction")
        self._key(request.get("from") if isinstance(request, dict) else None)
        raw = self._sign(await self._fill(request))
        tx = decode_raw_transaction(raw, self.eth.executor.config.chain_id)
        return {"raw": data(raw), "tx": format_transaction(tx, None, None)}

    async def eth_sign(self, params: list[Any]) -> str:
        key = self._key(p.arg(params, 0, "address"))
        message = p.hex_bytes(p.arg(params, 1, "message"), "message")
        return data(Account.sign_message(encode_defunct(primitive=message), key).signature)

    async def personal_sign(self, params: list[Any]) -> str:
        return await self.eth_sign([p.arg(params, 1, "address"), p.arg(params, 0, "message")])

    async def eth_signTypedData_v4(self, params: list[Any]) -> str:
        key = self._key(p.arg(params, 0, "address"))
        typed = p.arg(params, 1, "typedData")
        if isinstance(typed, str):
            try:
                typed = json.loads(typed)
            except ValueError as exc:
                raise invalid_params("typedData is not JSON") from exc
        if not isinstance(typed, dict):
            raise invalid_params("typedData must be an EIP-712 object")
        try:
            signable = encode_typed_data(full_message=typed)
        except Exception as exc:
            raise invalid_params(f"typedData is not valid EIP-712: {exc}") from exc
        return data(Account.sign_message(signable, key).signature)
