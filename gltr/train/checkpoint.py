"""Checkpoints: `<name>.pt` (weights, optimiser, RNG states) + `<name>.json` (everything readable).

The JSON holds the model config, run config, dataset manifest hash, git commit, loader state,
epoch and step. Both are written under a temporary name and renamed.
"""
import json
import os
import subprocess
from pathlib import Path

import torch

from gltr.pipeline.store import sha256_file


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def dataset_hash(data: Path) -> str:
    """sha256 of the dataset's manifest.parquet, as recorded by prepare."""
    report = json.loads((Path(data) / "prepare.json").read_text())
    return report["files"]["manifest.parquet"]


def save(folder: Path, name: str, model, optimizer, meta: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "rng": {"torch": torch.get_rng_state(),
                     "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}}
    pt, js = folder / f"{name}.pt", folder / f"{name}.json"
    torch.save(state, folder / f".{name}.pt.tmp")
    os.replace(folder / f".{name}.pt.tmp", pt)
    meta = {**meta, "weights_sha256": sha256_file(pt)}
    (folder / f".{name}.json.tmp").write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(folder / f".{name}.json.tmp", js)
    return pt


def load_meta(pt: Path) -> dict:
    return json.loads(Path(pt).with_suffix(".json").read_text())


def load(pt: Path, map_location="cpu") -> tuple[dict, dict]:
    """(state dict with model / optimizer / rng, meta JSON)."""
    return torch.load(pt, map_location=map_location, weights_only=True), load_meta(pt)   # never unpickles code
