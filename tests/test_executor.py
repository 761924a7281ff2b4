"""py-evm execution: determinism (what derivation relies on), skip rules, mempool rules."""

import pytest
from eth_account import Account

from toolkit.l2.executor import BlockAttributes, BlockExecutionError, L2Executor
from toolkit.l2.signed_block import SignedBlock
from toolkit.l2.transactions import InvalidTransaction
from toolkit.l2.txpool import TxPool
from toolkit.signing import SigningDomain
from toolkit.testing import ACCOUNTS, CHAIN_ID, chain_config, transfer

ATTRIBUTES = BlockAttributes(timestamp=1_700_000_005, l1_origin_number=3, l1_origin_hash=b"\x33" * 32)


def test_same_inputs_give_the_same_block_on_another_node() -> None:
    sequencer, verifier = L2Executor(chain_config()), L2Executor(chain_config())
    assert sequencer.genesis_hash == verifier.genesis_hash
    txs = [transfer(0, n) for n in range(5)] + [transfer(1, 0)]
    built = sequencer.execute_block(sequencer.head, ATTRIBUTES, txs, strict=False)
    derived = verifier.execute_block(verifier.head, ATTRIBUTES, list(built.raw_transactions), strict=True)
    assert built.hash == derived.hash
    assert BlockAttributes.from_header(derived.block.header) == ATTRIBUTES
    assert len(derived.block.transactions) == 6


def test_sequencer_skips_invalid_transactions_and_derivation_refuses_them() -> None:
    executor = L2Executor(chain_config())
    bad = [transfer(0, 5), transfer(1, 0, chain_id=999), b"\x02garbage"]
    built = executor.execute_block(executor.head, ATTRIBUTES, [transfer(0, 0), *bad], strict=False)
    assert len(built.block.transactions) == 1
    reasons = " | ".join(s.reason for s in built.skipped)
    assert "nonce" in reasons and "chain id" in reasons and "decoded" in reasons
    with pytest.raises(BlockExecutionError):
        executor.execute_block(executor.head, ATTRIBUTES, [transfer(0, 0), bad[0]], strict=True)


def test_timestamps_never_decrease_and_blocks_may_share_a_second() -> None:
    executor = L2Executor(chain_config())
    genesis = chain_config().genesis_timestamp
    stale = BlockAttributes(timestamp=genesis - 1, l1_origin_number=0, l1_origin_hash=b"\0" * 32)
    with pytest.raises(BlockExecutionError, match="before the parent"):
        executor.execute_block(executor.head, stale, [], strict=True)
    same_second = BlockAttributes(timestamp=genesis, l1_origin_number=0, l1_origin_hash=b"\0" * 32)
    block = executor.execute_block(executor.head, same_second, [transfer(0, 0)], strict=True)
    assert block.block.header.timestamp == genesis and len(block.block.transactions) == 1


def test_rewind_drops_blocks_and_their_transaction_index() -> None:
    executor = L2Executor(chain_config())
    first = executor.execute_block(executor.head, ATTRIBUTES, [transfer(0, 0)], strict=True)
    executor.append(first)
    tx_hash = bytes(first.block.transactions[0].hash)
    assert executor.transaction_location(tx_hash) == (1, 0)
    assert executor.rewind(0) == [first.hash]
    assert executor.head_number == 0 and executor.transaction_location(tx_hash) is None


def test_signed_block_survives_json_and_names_its_signer() -> None:
    executor = L2Executor(chain_config())
    built = executor.execute_block(executor.head, ATTRIBUTES, [transfer(0, 0)], strict=True)
    domain = SigningDomain(31337, "0x" + "11" * 20)
    signed = SignedBlock.create(domain, CHAIN_ID, built, ACCOUNTS[2].private_key)
    again = SignedBlock.from_json(signed.to_json())
    assert again == signed and again.signer(domain) == ACCOUNTS[2].address


def test_mempool_rejections_and_nonce_gaps() -> None:
    executor = L2Executor(chain_config(balance=10**18))
    pool = TxPool(executor)
    pool.add(transfer(0, 0))
    with pytest.raises(InvalidTransaction, match="already known"):
        pool.add(transfer(0, 0))
    with pytest.raises(InvalidTransaction, match="invalid chain id"):
        pool.add(transfer(0, 1, chain_id=1))
    with pytest.raises(InvalidTransaction, match="insufficient funds"):
        pool.add(transfer(1, 0, value=10**18))
    with pytest.raises(InvalidTransaction, match="block gas limit"):
        pool.add(transfer(1, 0, gas=40_000_000))
    with pytest.raises(InvalidTransaction, match="replacement transaction underpriced"):
        pool.add(transfer(0, 0, value=2))
    gap = pool.add(transfer(0, 2))  # nonce 1 missing: held, not executable
    assert len(pool.executable()) == 1 and pool.get(gap) is not None
    pool.add(transfer(0, 1))
    assert len(pool.executable()) == 3
    assert pool.pending_nonce(ACCOUNTS[0].address, executor.head) == 3
    built = executor.execute_block(executor.head, ATTRIBUTES, pool.executable(), strict=True)
    executor.append(built)
    pool.remove_stale()
    assert len(pool) == 0
    with pytest.raises(InvalidTransaction, match="nonce too low"):
        pool.add(transfer(0, 0, value=5))


def test_unprotected_legacy_transactions_are_refused() -> None:
    legacy = Account.sign_transaction(
        {"nonce": 0, "gasPrice": 10**9, "gas": 21_000, "to": ACCOUNTS[1].address, "value": 1},
        ACCOUNTS[0].private_key,
    )
    pool = TxPool(L2Executor(chain_config()))
    with pytest.raises(InvalidTransaction, match="replay-protected"):
        pool.add(bytes(legacy.raw_transaction))
