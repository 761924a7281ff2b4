"""toolkit.signing computes exactly the digests the contracts check, and they differ per deployment.

Two bare Anvils (L1 chain ids 31337 and 31338) get a StakingRegistry + Inbox from the committed
artifacts, deployed by the same account at the same nonces, so both deployments have the same
addresses and differ only in the L1 chain id; a second deployment on the first Anvil differs only
in its addresses.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from devnet.supervisor import ManagedProcess, free_port
from toolkit.accounts import dev_accounts
from toolkit.l1.artifacts import find_foundry_tool, load_artifact
from toolkit.signing import SigningDomain, batch_digest, block_signing_digest

ETHER = 10**18
L2_CHAIN = 901
ADMIN, VALIDATOR, REPORTER = dev_accounts(3)


@dataclass(frozen=True)
class Deployment:
    w3: Web3
    registry: Contract
    inbox: Contract

    @property
    def domain(self) -> SigningDomain:
        return SigningDomain(l1_chain_id=self.w3.eth.chain_id, inbox=self.inbox.address)


def _transact(w3: Web3, call: Any, sender: str, value: int = 0) -> Any:
    """Send a contract call or constructor from an Anvil-unlocked account; return its receipt."""
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "value": value}), timeout=10)
    assert receipt["status"] == 1
    return receipt


def _deploy(w3: Web3, name: str, *args: object) -> Contract:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = _transact(w3, factory.constructor(*args), ADMIN.address)
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def _deploy_pos(w3: Web3) -> Deployment:
    """StakingRegistry + Inbox bound to each other, one validator (VALIDATOR) staking 1 ether."""
    registry = _deploy(w3, "StakingRegistry", ADMIN.address, 10, 5, ETHER, 20, 1000)
    inbox = _deploy(w3, "Inbox", registry.address, 10, 0)
    _transact(w3, registry.functions.setInbox(inbox.address), ADMIN.address)
    _transact(w3, registry.functions.stake(), VALIDATOR.address, value=ETHER)
    return Deployment(w3, registry, inbox)


@pytest.fixture(scope="module")
def anvils(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Web3, Web3]]:
    logs: Path = tmp_path_factory.mktemp("anvil")
    processes: list[ManagedProcess] = []
    chains = []
    try:
        for l1_chain_id in (31337, 31338):
            port = free_port()
            process = ManagedProcess(
                f"anvil-{l1_chain_id}",
                [
                    str(find_foundry_tool("anvil")),
                    "--port",
                    str(port),
                    "--chain-id",
                    str(l1_chain_id),
                    "--accounts",
                    "3",
                ],
                logs / f"anvil-{l1_chain_id}.log",
            )
            processes.append(process)
            process.start()
            w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 5}))
            process.wait_ready(w3.is_connected, 20)
            chains.append(w3)
        yield chains[0], chains[1]
    finally:
        for process in processes:
            process.stop()


@pytest.fixture(scope="module")
def deployments(anvils: tuple[Web3, Web3]) -> tuple[Deployment, Deployment, Deployment]:
    """(first Anvil, second Anvil at the same addresses, first Anvil again at other addresses)."""
    first_l1, second_l1 = anvils
    return _deploy_pos(first_l1), _deploy_pos(second_l1), _deploy_pos(first_l1)


@pytest.fixture
def fresh(anvils: tuple[Web3, Web3]) -> Iterator[None]:
    """Undo a test's transactions (slashing, batches) on both Anvils."""
    snapshots = [(w3, w3.provider.make_request("evm_snapshot", [])["result"]) for w3 in anvils]
    yield
    for w3, snapshot in snapshots:
        assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True


def _cases() -> list[tuple[int, int, bytes]]:
    rng = random.Random(901)
    cases = [
        (L2_CHAIN, 0, bytes(32)),
        (L2_CHAIN, 7, keccak(b"block a")),
        (2**256 - 1, 2**256 - 1, b"\xff" * 32),
    ]
    cases += [(rng.randrange(2**64), rng.randrange(2**256), rng.randbytes(32)) for _ in range(5)]
    return cases


def _revert_selector(error: ContractCustomError) -> str:
    assert isinstance(error.data, str), error
    return error.data[:10]


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def _sign(private_key: str, digest: bytes) -> bytes:
    signed = Account.unsafe_sign_hash(digest, private_key)
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def test_block_signing_digest_matches_the_registry(deployments: tuple[Deployment, ...]) -> None:
    for deployment in deployments:
        for chain_id, number, block_hash in _cases():
            on_chain = deployment.registry.functions.blockSigningDigest(chain_id, number, block_hash).call()
            assert block_signing_digest(deployment.domain, chain_id, number, block_hash) == bytes(on_chain)


def test_batch_digest_matches_the_inbox(deployments: tuple[Deployment, ...]) -> None:
    rng = random.Random(902)
    batches = [
        (L2_CHAIN, 1, 1, 0, b""),
        (L2_CHAIN, 1, 4, 2, b"\x01\x01"),
        (2**256 - 1, 2**64 - 1, 2**64 - 1, 2**64 - 1, rng.randbytes(10_000)),
    ]
    batches += [
        (
            rng.randrange(2**32),
            rng.randrange(2**64),
            rng.randrange(2**64),
            rng.randrange(2**64),
            rng.randbytes(rng.randrange(200)),
        )
        for _ in range(5)
    ]
    for deployment in deployments:
        for chain_id, first, last, forced_end, data in batches:
            on_chain = deployment.inbox.functions.batchDigest(
                chain_id, first, last, forced_end, keccak(data)
            ).call()
            assert batch_digest(deployment.domain, chain_id, first, last, forced_end, data) == bytes(on_chain)


def test_two_deployments_give_different_digests(deployments: tuple[Deployment, ...]) -> None:
    first, other_l1, other_inbox = deployments
    assert other_l1.inbox.address == first.inbox.address  # same addresses: only the L1 chain id differs
    assert other_inbox.inbox.address != first.inbox.address  # same L1: only the Inbox differs
    assert len({d.domain for d in deployments}) == 3
    block_hash = keccak(b"block a")
    block_digests = {
        bytes(d.registry.functions.blockSigningDigest(L2_CHAIN, 7, block_hash).call()) for d in deployments
    }
    batch_digests = {
        bytes(d.inbox.functions.batchDigest(L2_CHAIN, 1, 4, 2, keccak(b"\x01")).call()) for d in deployments
    }
    assert len(block_digests) == 3 and len(batch_digests) == 3
    assert block_digests == {block_signing_digest(d.domain, L2_CHAIN, 7, block_hash) for d in deployments}
    assert batch_digests == {batch_digest(d.domain, L2_CHAIN, 1, 4, 2, b"\x01") for d in deployments}


@pytest.mark.usefixtures("fresh")
def test_python_signed_equivocation_slashes_only_on_its_own_deployment(
    deployments: tuple[Deployment, ...],
) -> None:
    first, other_l1, other_inbox = deployments
    hash_a, hash_b = keccak(b"block a"), keccak(b"block b")
    evidence = (
        L2_CHAIN,
        7,
        hash_a,
        _sign(VALIDATOR.private_key, block_signing_digest(first.domain, L2_CHAIN, 7, hash_a)),
        hash_b,
        _sign(VALIDATOR.private_key, block_signing_digest(first.domain, L2_CHAIN, 7, hash_b)),
    )
    for elsewhere in (other_l1, other_inbox):
        with pytest.raises(ContractCustomError) as refused:
            elsewhere.registry.functions.slashEquivocation(*evidence).call({"from": REPORTER.address})
        assert _revert_selector(refused.value) == _selector("NotEquivocation()")
    _transact(first.w3, first.registry.functions.slashEquivocation(*evidence), REPORTER.address)
    for deployment, jailed in ((first, True), (other_l1, False), (other_inbox, False)):
        assert deployment.registry.functions.validators(VALIDATOR.address).call()[3] is jailed


@pytest.mark.usefixtures("fresh")
def test_python_attestation_counts_only_on_its_own_inbox(deployments: tuple[Deployment, ...]) -> None:
    first, other_l1, other_inbox = deployments
    data = b"\x01\x00batch"
    attestation = _sign(VALIDATOR.private_key, batch_digest(first.domain, L2_CHAIN, 1, 1, 0, data))
    for elsewhere in (other_l1, other_inbox):  # VALIDATOR leads there too: only the attestation is refused
        with pytest.raises(ContractCustomError) as refused:
            elsewhere.inbox.functions.postBatch(L2_CHAIN, 1, 1, 0, data, attestation).call(
                {"from": VALIDATOR.address}
            )
        assert _revert_selector(refused.value) == _selector("InsufficientAttestations(uint256,uint256)")
    _transact(
        first.w3, first.inbox.functions.postBatch(L2_CHAIN, 1, 1, 0, data, attestation), VALIDATOR.address
    )
    assert first.inbox.functions.batchCount(L2_CHAIN).call() == 1


def test_digest_layout_without_eth_abi() -> None:
    domain = SigningDomain(l1_chain_id=31337, inbox="0x" + "ab" * 20)
    block_hash = bytes(range(32))

    def word(value: int) -> bytes:
        return value.to_bytes(32, "big")

    inbox_word = bytes(12) + b"\xab" * 20
    assert block_signing_digest(domain, 901, 7, block_hash) == keccak(
        word(31337) + inbox_word + word(901) + word(7) + block_hash
    )
    assert batch_digest(domain, 901, 1, 4, 2, b"data") == keccak(
        word(31337) + inbox_word + word(901) + word(1) + word(4) + word(2) + keccak(b"data")
    )


def test_domain_normalises_and_refuses_bad_input() -> None:
    lower = "0x" + "ab" * 20
    assert SigningDomain(1, lower) == SigningDomain(1, lower.upper().replace("0X", "0x"))
    assert SigningDomain(1, lower).inbox == to_checksum_address(lower)
    for bad in ("0x" + "00" * 20, "0x1234", "ab" * 20 + "zz"):
        with pytest.raises(ValueError):
            SigningDomain(1, bad)
    with pytest.raises(ValueError):
        SigningDomain(-1, lower)
    with pytest.raises(TypeError):
        SigningDomain(True, lower)
    domain = SigningDomain(1, lower)
    with pytest.raises(ValueError):
        block_signing_digest(domain, 901, 7, b"\x01")  # eth_abi would pad a short hash silently
    with pytest.raises(ValueError):
        batch_digest(domain, 901, 2**64, 1, 0, b"")
    with pytest.raises(TypeError):
        batch_digest(domain, 901, 1, 1, 0, "0x01")  # type: ignore[arg-type]
