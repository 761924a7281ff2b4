"""devnet.toml parsing: the documented example loads, overrides apply, mistakes are named."""

import re
from pathlib import Path

import pytest

from devnet.config import ConfigError, DevnetConfig, load_config
from toolkit.l1.artifacts import REPO_ROOT


def test_documented_example_is_the_defaults() -> None:
    assert load_config(REPO_ROOT / "devnet.example.toml") == DevnetConfig()


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "devnet.toml"
    path.write_text("[l2]\nblock_time = 2\n[batcher]\nmax_blocks = 3\n")
    config = load_config(path, {"l2.block_time": 0.0, "l1.port": 0, "batcher.max_seconds": None})
    assert config.l2.block_time == 0.0 and config.batcher.max_blocks == 3 and config.l1.port == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[l3]\nx = 1\n", "unknown section [l3]"),
        ("[devnet]\ncolour = 'red'\n", "unknown key [devnet] colour"),
        ("[l1]\nport = '8545'\n", "port must be int"),
        ("[l1]\nblock_time = 0\n", "l1.block_time must be > 0"),
        ("[l2]\nchain_id = 31337\n", "must differ"),
        ("[nodes]\nsequencer_port = 8545\n", "ports must differ"),
        ("[batcher]\ncompression = 'lz4'\n", "compression must be"),
        ("[[chains]]\nchain_id = 901\n[[chains]]\nchain_id = 901\n", "chain ids must differ"),
        ("[[chains]]\nchain_id = '902'\n", "chain_id must be an integer"),
        ("[[chains]]\nchain_id = 902\ncolour = 1\n", "unknown key [[chains]] colour"),
        ("[[chains]]\nchain_id = 31337\n", "differ from the L1's"),
        ("[[chains]]\nchain_id = 902\nalloc = { nope = 1 }\n", "is not address = wei"),
        ("[[chains]]\nchain_id = 902\nblock_time = -1\n", "block_time must be >= 0"),
        ("chains = 3\n", "must be an array of tables"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "devnet.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(path)


def test_chains_from_the_file_and_from_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "devnet.toml"
    path.write_text(
        "[l2]\nblock_time = 2\n[[chains]]\nchain_id = 901\n[[chains]]\nchain_id = 902\nblock_time = 0.5\n"
        'alloc = { "0x000000000000000000000000000000000000dEaD" = "0x10" }\n'
    )
    config = load_config(path)
    first, second = config.chain_list
    assert (first.chain_id, config.chain_block_time(first)) == (901, 2.0)
    assert (second.chain_id, config.chain_block_time(second), second.alloc) == (
        902, 0.5, (("0x000000000000000000000000000000000000dEaD", 16),))
    flagged = load_config(path, {"chains": "903,904"})
    assert [c.chain_id for c in flagged.chain_list] == [903, 904]
    with pytest.raises(ConfigError, match="--chains expects chain ids"):
        load_config(None, {"chains": "901,x"})
    assert [c.chain_id for c in load_config(None).chain_list] == [901]


def test_an_existing_l1_needs_a_key_and_turns_test_controls_off_unless_asked(tmp_path) -> None:
    key = "0x" + "5a" * 32
    config = load_config(None, {"l1.rpc_url": "http://127.0.0.1:8545", "l1.key": key})
    assert config.l1.external and not config.nodes.test_controls
    toml = tmp_path / "devnet.toml"
    toml.write_text('[l1]\nrpc_url = "http://127.0.0.1:8545"\n[nodes]\ntest_controls = true\n')
    assert load_config(toml, {"l1.key": key}).nodes.test_controls  # asked for explicitly
    assert load_config(None).nodes.test_controls  # the devnet's own Anvil: on by default
    for overrides, message in (
        ({"l1.rpc_url": "http://127.0.0.1:8545"}, "l1.rpc_url needs l1.key"),
        ({"l1.rpc_url": "http://127.0.0.1:8545", "l1.key": "0x1234"}, "l1.rpc_url needs l1.key"),
        ({"l1.rpc_url": "127.0.0.1:8545", "l1.key": key}, "must be an http(s) URL"),
        ({"l1.key": key}, "l1.key is only used with l1.rpc_url"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(None, overrides)
