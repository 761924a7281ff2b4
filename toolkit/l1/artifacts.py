"""Compiled contracts: committed JSON artifacts (abi, bytecode) and the forge build that makes them.

Running a devnet needs no compiler: it deploys from contracts/artifacts/*.json. The check
(`python -m toolkit.l1.artifacts --check`) rebuilds with forge (into forge's out/ and cache/) and
fails when the committed artifacts differ from what the sources compile to.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACT_DIR = REPO_ROOT / "contracts" / "artifacts"
CONTRACT_NAMES = (
    "SequencerRegistry", "StakingRegistry", "CommitteeRegistry", "SequencerAuction", "SharedStakingRegistry", "Inbox"
)
ARTIFACT_KEYS = ("abi", "bytecode", "deployedBytecode")


class ArtifactError(RuntimeError):
    pass


class ToolNotFound(FileNotFoundError):
    pass


def find_foundry_tool(name: str) -> Path:
    """anvil / forge / cast: $DEVNET_<NAME>, then tools/node_modules (./dev setup), then PATH."""
    override = os.environ.get(f"DEVNET_{name.upper()}")
    if override:
        path = Path(override)
        if not path.is_file():
            raise ToolNotFound(f"DEVNET_{name.upper()}={override} is not a file")
        return path
    bundled = REPO_ROOT / "tools" / "node_modules" / "@foundry-rs" / f"{name}-linux-amd64" / "bin" / name
    if bundled.is_file():
        return bundled
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise ToolNotFound(f"{name} not found: run `./dev setup` (installs the pinned Foundry into tools/)")


@cache
def load_artifact(name: str, directory: Path = ARTIFACT_DIR) -> dict[str, Any]:
    path = directory / f"{name}.json"
    try:
        artifact = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(f"no artifact {path}: run `python -m toolkit.l1.artifacts`") from exc
    except ValueError as exc:
        raise ArtifactError(f"artifact {path} is not valid JSON: {exc}") from exc
    missing = [key for key in ARTIFACT_KEYS if key not in artifact]
    if missing:
        raise ArtifactError(f"artifact {path} lacks {', '.join(missing)}")
    return artifact


def build_artifacts(root: Path = REPO_ROOT) -> dict[str, dict[str, Any]]:
    """Compile `root`'s contracts with forge; return the artifacts.

    The build goes to forge's own project folders (`out/`, `cache/` under `root`, as `forge test` uses):
    forge's cache is keyed by source content, so an unchanged source is not compiled twice and a changed
    one always is."""
    command = [str(find_foundry_tool("forge")), "build", "--root", str(root), "--skip", "test"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise ArtifactError(f"forge build failed:\n{result.stdout}\n{result.stderr}")
    artifacts = {}
    for name in CONTRACT_NAMES:
        built = json.loads((root / "out" / f"{name}.sol" / f"{name}.json").read_text())
        artifacts[name] = {
            "contractName": name,
            "abi": built["abi"],
            "bytecode": built["bytecode"]["object"],
            "deployedBytecode": built["deployedBytecode"]["object"],
        }
    return artifacts


def _render(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def write_artifacts(root: Path = REPO_ROOT) -> list[Path]:
    directory = root / "contracts" / "artifacts"
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in build_artifacts(root).items():
        path = directory / f"{name}.json"
        path.write_text(_render(artifact))
        written.append(path)
    load_artifact.cache_clear()
    return written


def check_artifacts(root: Path = REPO_ROOT) -> list[str]:
    """Differences between committed artifacts and a fresh build ([] when in sync)."""
    differences = []
    for name, fresh in build_artifacts(root).items():
        path = root / "contracts" / "artifacts" / f"{name}.json"
        if not path.exists():
            differences.append(f"{path} is missing")
            continue
        committed = json.loads(path.read_text())
        for key in ARTIFACT_KEYS:
            if committed.get(key) != fresh[key]:
                differences.append(f"{name}.{key} differs from what contracts/ compiles to")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.l1.artifacts", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when out of date")
    args = parser.parse_args(argv)
    if args.check:
        differences = check_artifacts()
        for line in differences:
            print(line, file=sys.stderr)
        if differences:
            print("rebuild them: .venv/bin/python -m toolkit.l1.artifacts", file=sys.stderr)
            return 1
        print("contract artifacts match the sources")
        return 0
    for path in write_artifacts():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
