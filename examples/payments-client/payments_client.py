"""A small merchant payments client: pays through the rollup's gateway, tracks every payment to a
confirmation level, re-sends a payment whose transaction was dropped, and never pays twice.

Never paying twice: a payment is signed once, with its own nonce, and only that signed transaction
is ever sent again (after an L2 reorg, a sequencer crash or censorship). Two copies of one signed
transaction cannot both execute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

LEVELS = ("unsafe", "safe", "finalized")


@dataclass
class Payment:
    payment_id: str
    to: str
    amount: int
    nonce: int
    raw: bytes
    tx_hash: str
    resent: int = 0


class PaymentsClient:
    def __init__(self, rpc_url: str, private_key: str, chain_id: int = 901) -> None:
        self.w3 = Web3(HTTPProvider(rpc_url))
        self.account = Account.from_key(private_key)
        self.chain_id = chain_id
        self.payments: dict[str, Payment] = {}

    def pay(self, payment_id: str, to: str, amount: int) -> Payment:
        """Send a payment once; asking again for the same `payment_id` returns the first one."""
        if payment_id in self.payments:
            return self.payments[payment_id]
        nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce, "to": Web3.to_checksum_address(to),
              "value": amount, "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
        signed = self.account.sign_transaction(tx)
        payment = Payment(payment_id, to, amount, nonce, bytes(signed.raw_transaction), signed.hash.to_0x_hex())
        self.payments[payment_id] = payment
        self.w3.eth.send_raw_transaction(payment.raw)
        return payment

    def level(self, payment_id: str) -> str | None:
        """The confirmation level the payment has reached now (None while it is in no block)."""
        payment = self.payments[payment_id]
        receipt = self.w3.provider.make_request("eth_getTransactionReceipt", [payment.tx_hash]).get("result")
        if receipt is None:
            return None
        number = int(receipt["blockNumber"], 16)
        reached = "unsafe"
        for level in ("safe", "finalized"):
            head = self.w3.eth.get_block(level)
            if head["number"] >= number:
                reached = level
        return reached

    def settle(self, payment_id: str, level: str = "safe", timeout: float = 90.0) -> dict[str, Any]:
        """Wait until the payment is at `level`; re-send it whenever no node knows it any more."""
        payment = self.payments[payment_id]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reached = self.level(payment_id)
            if reached is not None and LEVELS.index(reached) >= LEVELS.index(level):
                return dict(self.w3.eth.get_transaction_receipt(payment.tx_hash))
            if reached is None and self._forgotten(payment):
                self._resend(payment)
            time.sleep(0.2)
        raise TimeoutError(f"payment {payment_id} did not reach {level} within {timeout}s")

    def _forgotten(self, payment: Payment) -> bool:
        known = self.w3.provider.make_request("eth_getTransactionByHash", [payment.tx_hash]).get("result")
        return known is None

    def _resend(self, payment: Payment) -> None:
        reply = self.w3.provider.make_request("eth_sendRawTransaction", ["0x" + payment.raw.hex()])
        if "error" not in reply:
            payment.resent += 1
