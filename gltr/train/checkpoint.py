"""Checkpoints: `<name>.pt` (weights, optimiser, RNG states) + `<name>.json` (everything readable).

The JSON holds the model config, run config, dataset manifest hash, git commit, loader state,
epoch and step. Both are written under a temporary name and renamed.
"""
import json
import os
import pickle
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


def dataset_hash(data) -> str:
    """sha256 of the dataset's manifest.parquet, as recorded by prepare (a local folder or a URL prefix)."""
    from webdataset.gopen import gopen
    from gltr.train.data import locate
    with gopen(locate(data, "prepare.json")) as f:
        report = json.loads(f.read())
    return report["files"]["manifest.parquet"]


def save(folder: Path, name: str, model, optimizer, meta: dict) -> Path:
    """Write <name>.pt (weights, optimiser, RNG states and the meta, in one file: its rename is the one
    atomic commit) and then <name>.json, a readable mirror of the meta with the .pt's sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "rng": {"torch": torch.get_rng_state(),
                     "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
             "meta": json.loads(json.dumps(meta))}                      # plain JSON types: loadable with weights_only
    pt, js = folder / f"{name}.pt", folder / f"{name}.json"
    torch.save(state, folder / f".{name}.pt.tmp")
    os.replace(folder / f".{name}.pt.tmp", pt)
    meta = {**meta, "weights_sha256": sha256_file(pt)}
    (folder / f".{name}.json.tmp").write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(folder / f".{name}.json.tmp", js)
    return pt


def load_meta(pt: Path) -> dict:
    """The readable mirror <name>.json (fast; `load` is the authority)."""
    return json.loads(Path(pt).with_suffix(".json").read_text())


def load(pt: Path, map_location="cpu") -> tuple[dict, dict]:
    """(state dict with model / optimizer / rng, meta), checked: the meta comes from the .pt itself,
    its sha256 is recomputed, and a mirror JSON that names the same step with another hash means the
    file was damaged. A mirror of an older step is stale (a stop between the two renames) and ignored."""
    pt = Path(pt)
    try:
        state = torch.load(pt, map_location=map_location, weights_only=True)  # never unpickles code
    except pickle.UnpicklingError:
        raise
    except Exception as e:
        raise ValueError(f"{pt}: cannot be read as a checkpoint ({type(e).__name__}: {str(e)[:80]}); damaged?") from None
    sha = sha256_file(pt)
    mirror = load_meta(pt) if pt.with_suffix(".json").exists() else None
    meta = state.pop("meta", None) or mirror                                  # checkpoints before the meta moved in
    if meta is None:
        raise FileNotFoundError(f"{pt}: no meta inside and no {pt.with_suffix('.json').name} beside it")
    if mirror is not None and mirror.get("weights_sha256") != sha and mirror.get("step") == meta.get("step"):
        raise ValueError(f"{pt}: sha256 {sha[:12]} differs from {pt.with_suffix('.json').name} "
                         f"({str(mirror.get('weights_sha256'))[:12]}): the checkpoint was damaged or replaced")
    return state, {**meta, "weights_sha256": sha}
