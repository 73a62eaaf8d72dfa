"""Checkpoints: `<name>.pt` + `<name>.json` (a readable mirror of the meta).

Two kinds, named in the meta's "contents":
- "full" (`latest.pt`, the file `--resume` needs): weights, AdamW state and RNG states;
- "weights" (`epoch-NNNN.pt`): the weights only, which is all an evaluation reads (a third of the size:
  AdamW keeps two more tensors per weight).

The meta (model config, run config, dataset identity, git commit, loader state, epoch, step)
lives inside the .pt, with `state_sha256`, a digest of every tensor and value in the file: loading
recomputes it, so a damaged file is refused whether or not its mirror JSON is there.
Both files are written under a temporary name and renamed; the .pt's rename is the commit.
"""
import hashlib
import json
import os
import pickle
import stat
import subprocess
from pathlib import Path

import torch

from gltr.pipeline.store import sha256_file
from gltr import records
from gltr.safety import atomic_file


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def state_digest(value, h=None) -> str:
    """sha256 over a nested state (dicts by key, lists in order, tensors by dtype, shape and bytes)."""
    top = h is None
    h = h or hashlib.sha256()
    if isinstance(value, dict):
        for k in sorted(value, key=str):
            h.update(f"<{k}>".encode())
            state_digest(value[k], h)
    elif isinstance(value, (list, tuple)):
        for v in value:
            state_digest(v, h)
    elif isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        h.update(f"{t.dtype}{tuple(value.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    else:
        h.update(repr(value).encode())
    return h.hexdigest() if top else ""


def save(folder: Path, name: str, model, optimizer, meta: dict) -> Path:
    """Write <name>.pt and its mirror <name>.json. With `optimizer` the file is "full" (weights, optimiser,
    RNG states: what resuming needs); with optimizer=None it holds the weights only."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
        state["rng"] = {"torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
    meta = {**json.loads(json.dumps(meta)), "contents": "full" if optimizer is not None else "weights",
            "state_sha256": state_digest(state)}                       # plain JSON types: loadable with weights_only
    state["meta"] = meta
    pt = folder / f"{name}.pt"
    with atomic_file(pt) as tmp:
        torch.save(state, tmp)
    mirror = {**meta, "weights_sha256": sha256_file(pt), "bytes": pt.stat().st_size}
    with atomic_file(folder / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(mirror, indent=1) + "\n")
    return pt


def load_meta(pt: Path) -> dict:
    """The readable mirror <name>.json (fast; `load` is the authority), read bounded and checked."""
    mirror = records.read(Path(pt).with_suffix(".json"), records.CheckpointMirror)
    return mirror.model_dump(by_alias=True)


def load_file(pt: Path, map_location="cpu"):
    """torch.load of a regular file only (a FIFO or device never blocks), opened once: (state, its sha256)."""
    fd = os.open(pt, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{pt}: not a regular file (FIFO, socket or device)")
        sha = hashlib.file_digest(f, "sha256").hexdigest()
        f.seek(0)
        try:
            state = torch.load(f, map_location=map_location, weights_only=True)      # never unpickles code
        except pickle.UnpicklingError:
            raise ValueError(f"{pt} is not a gltr checkpoint: it holds Python objects other than tensors and plain "
                             f"values, which gltr never writes; it was not loaded") from None
        except Exception as e:
            raise ValueError(f"{pt}: cannot be read as a checkpoint ({type(e).__name__}: {str(e)[:80]}); "
                             f"damaged?") from None
    return state, sha


def load(pt: Path, map_location="cpu", for_resume: bool = False) -> tuple[dict, dict]:
    """(state dict, meta), checked: the meta comes from the .pt itself, its `state_sha256` is recomputed over
    what was loaded, and then it is validated (gltr.records.CheckpointMeta; the model config is checked where a
    model is built from it). `for_resume` refuses a weights-only file. A checkpoint written before the digest
    moved inside loads only with a mirror JSON that confirms its sha256."""
    pt = Path(pt)
    state, sha = load_file(pt, map_location)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{pt} is not a gltr checkpoint (no model weights in it)")
    meta = state.pop("meta", None)
    if isinstance(meta, dict) and "state_sha256" in meta:
        if state_digest(state) != meta["state_sha256"]:
            raise ValueError(f"{pt}: its contents differ from the digest written inside it: the checkpoint was damaged")
    else:                                                                      # written before the digest moved inside
        mirror = load_meta(pt) if pt.with_suffix(".json").exists() else None
        meta = meta or mirror
        if meta is None:
            raise FileNotFoundError(f"{pt}: no meta inside and no {pt.with_suffix('.json').name} beside it")
        if mirror is None or mirror.get("weights_sha256") != sha:
            raise ValueError(f"{pt}: an older checkpoint whose sha256 {sha[:12]} is not confirmed by "
                             f"{pt.with_suffix('.json').name}: damaged, replaced or its mirror is missing")
    meta = records.check(meta, records.CheckpointMeta, f"{pt}: meta").model_dump(by_alias=True)
    if for_resume and ("optimizer" not in state or meta["loader"] is None):
        raise ValueError(f"{pt} holds weights only (an epoch checkpoint): resuming needs the run's latest.pt, "
                         f"which keeps the optimiser and RNG state")
    return state, {**meta, "weights_sha256": sha}
