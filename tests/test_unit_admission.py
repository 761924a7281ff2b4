"""Admission (toolkit/l2/transactions.py) applies exactly the rules py-evm meets at execution:
what the pool refuses is what a block skips, with the same geth wording, and whatever py-evm
still refuses half-way is skipped with the block's state left as it was."""

from __future__ import annotations

import pytest
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_account import Account

from toolkit.l2.executor import BlockAttributes, L2Executor, _apply_or_refuse
from toolkit.l2.transactions import (
    MAX_INITCODE_SIZE,
    InvalidTransaction,
    decode_raw_transaction,
    floor_data_gas,
)
from toolkit.l2.txpool import TxPool
from toolkit.testing import ACCOUNTS, CHAIN_ID, chain_config, transfer

ATTRIBUTES = BlockAttributes(timestamp=1_700_000_005, l1_origin_number=3, l1_origin_hash=b"\x33" * 32)
POISON_INITCODE = transfer(0, 0, to=None, data=b"\0" * (MAX_INITCODE_SIZE + 1), gas=15_000_000)


def refused(raw: bytes) -> str:
    """The pool's refusal, checked to be the very reason a built block skips the transaction."""
    executor = L2Executor(chain_config())
    with pytest.raises(InvalidTransaction) as pool_error:
        TxPool(executor).add(raw)
    built = executor.execute_block(executor.head, ATTRIBUTES, [raw], strict=False, forced_transactions=[raw])
    assert len(built.block.transactions) == 0
    assert built.forced_outcomes == (str(pool_error.value),)
    assert [s.reason for s in built.skipped] == [str(pool_error.value)] * 2
    return str(pool_error.value)


def test_init_code_one_byte_over_eip3860_is_refused_and_skipped_not_fatal() -> None:
    assert refused(POISON_INITCODE) == "max initcode size exceeded: code size 49153, limit 49152"
    at_limit = transfer(0, 0, to=None, data=b"\0" * MAX_INITCODE_SIZE, gas=15_000_000)
    executor = L2Executor(chain_config())
    TxPool(executor).add(at_limit)
    built = executor.execute_block(executor.head, ATTRIBUTES, [at_limit], strict=True)
    assert len(built.block.transactions) == 1


def test_nonce_cap_of_eip2681() -> None:
    assert refused(transfer(0, 2**64 - 1)).startswith("nonce has max value")
    assert refused(transfer(0, 2**64)).startswith("nonce has max value")


def test_intrinsic_gas_counts_access_lists_and_init_code_words() -> None:
    access_list = [{"address": ACCOUNTS[2].address, "storageKeys": ["0x" + "00" * 32]}]
    # 21,000 + 2,400 per address + 1,900 per key: 25,300; an access-list tx below it is not a bad signature
    access_list_tx = {"type": 1, "chainId": CHAIN_ID, "nonce": 0, "to": ACCOUNTS[3].address, "value": 1,
                      "gas": 25_299, "gasPrice": 2 * 10**9, "accessList": access_list}
    reason = refused(bytes(Account.sign_transaction(access_list_tx, ACCOUNTS[0].private_key).raw_transaction))
    assert reason == "intrinsic gas too low: gas 25299, minimum needed 25300"
    # create: 53,000 + 4 per zero byte + 2 per init-code word (EIP-3860, which py-evm charges late)
    reason = refused(transfer(0, 0, to=None, data=b"\0" * 64, gas=53_000 + 256 + 3))
    assert reason == "intrinsic gas too low: gas 53259, minimum needed 53260"


def test_calldata_floor_of_eip7623() -> None:
    data = b"\x01" * 1000  # intrinsic 37,000; floor 21,000 + 10 * 4,000 tokens = 61,000
    assert floor_data_gas(data) == 61_000
    reason = refused(transfer(0, 0, data=data, gas=60_999))
    assert reason == "insufficient gas for floor data gas cost: gas 60999, minimum needed 61000"
    executor = L2Executor(chain_config())
    built = executor.execute_block(executor.head, ATTRIBUTES, [transfer(0, 0, data=data, gas=61_000)], strict=True)
    assert built.receipts[0].gas_used == 61_000  # never charged over its gas limit


@pytest.mark.parametrize("type_byte", [0x03, 0x05, 0x7F])
def test_unsupported_types_including_blobs(type_byte: int) -> None:
    with pytest.raises(InvalidTransaction, match=f"transaction type not supported: type {type_byte}"):
        decode_raw_transaction(bytes([type_byte]) + b"\xc0", CHAIN_ID)


def test_what_py_evm_refuses_half_way_is_skipped_with_the_state_untouched() -> None:
    executor = L2Executor(chain_config())
    poison = PragueTransactionBuilder.decode(POISON_INITCODE)  # past admission, as a bug would let it
    vm = executor.chain.get_vm(executor.chain.create_header_from_parent(executor.head, timestamp=ATTRIBUTES.timestamp))
    header = vm.get_header()
    balance_before = vm.state.get_balance(poison.sender)
    with pytest.raises(InvalidTransaction, match="execution refused: OutOfGas"):
        _apply_or_refuse(vm, header, poison)
    assert vm.state.get_nonce(poison.sender) == 0
    assert vm.state.get_balance(poison.sender) == balance_before


def test_one_sender_cannot_lock_others_out_of_a_full_pool() -> None:
    executor = L2Executor(chain_config())
    pool = TxPool(executor, max_transactions=12, account_slots=4)
    flood = [pool.add(transfer(0, n)) for n in range(12)]
    other = pool.add(transfer(1, 0))  # the flooder's last-in-line transaction makes room
    assert pool.get(other) is not None and pool.get(flood[-1]) is None
    assert "held 12 transactions" in pool.evicted[flood[-1]]
    with pytest.raises(InvalidTransaction, match="txpool is full"):
        pool.add(transfer(0, 11))  # the flooder, over its slots, cannot push anyone out
    built = executor.execute_block(executor.head, ATTRIBUTES, pool.executable(), strict=True)
    assert len(built.block.transactions) == 12  # 11 of the flood and the other user's


def test_a_full_pool_keeps_the_better_paying_transactions() -> None:
    pool = TxPool(L2Executor(chain_config()), max_transactions=6, account_slots=4)
    for n in range(4):
        pool.add(transfer(0, n, maxPriorityFeePerGas=3))
    cheap = [pool.add(transfer(1, n)) for n in range(2)]  # tip 1
    with pytest.raises(InvalidTransaction, match="^transaction underpriced$"):
        pool.add(transfer(2, 0))  # tip 1 pays no more than the cheapest
    better = pool.add(transfer(2, 0, maxPriorityFeePerGas=2))
    assert pool.get(better) is not None and pool.get(cheap[-1]) is None and len(pool) == 6
