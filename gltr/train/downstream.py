"""What every command after pretraining shares (linear, kNN, fine-tuning, semi, attention): the encoder and
its fit to a dataset, where a result comes from, where it goes, its name, and the lock on a run's eval/.

    model, meta = load_encoder(Path("runs/x/checkpoints/latest.pt"), "cpu")
    check_compatible(meta, read_index("data/nwucla", "view", "train"))
"""
import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from gltr import resources
from gltr.records import result_name
from gltr.model.gltransformer import GLTConfig, GLTransformer, for_variant
from gltr.safety import atomic_file, hold_lock
from gltr.train import checkpoint
from gltr.train.prepared import PreparedData, read_index

# ----------------------------------------------------------------------------- the encoder

def random_weights_id(random_init: dict) -> str:
    """'random-<config sha256[:12]>-seed<s>': stands for a random encoder's weights hash (names its feature cache)."""
    config_sha = hashlib.sha256(json.dumps(random_init["model_config"], sort_keys=True).encode()).hexdigest()
    return f"random-{config_sha[:12]}-seed{random_init['seed']}"


def load_encoder(ckpt: Path | None, device, random_init: dict | None = None) -> tuple[GLTransformer, dict]:
    """(model, meta) from a checkpoint, or a seeded random model when `random_init` gives
    {"model_config": ..., "seed": ...} (the baseline every probe is compared with)."""
    if random_init is not None:
        torch.manual_seed(random_init["seed"])
        model = GLTransformer(GLTConfig.from_dict(random_init["model_config"], "--random-init"))
        meta = {"model_config": random_init["model_config"], "variant": random_init.get("variant"),
                "weights_sha256": random_weights_id(random_init)}
        return model.to(device), meta
    state, meta = checkpoint.load(ckpt, map_location="cpu")
    model = GLTransformer(GLTConfig.from_dict(meta["model_config"], str(ckpt)))
    model.load_state_dict(state["model"])
    return model.to(device), {**meta, "model_config": model.cfg.to_dict()}


def random_init_spec(data, benchmark: str, preset: str | None, seed: int) -> dict:
    """What `--random-init` probes: the preset (default: the one the dataset's pretraining uses) on
    this dataset, freshly initialised with `seed`."""
    variant = read_index(data, benchmark, "train")["variant"]
    return {"model_config": for_variant(variant, preset).to_dict(), "seed": seed, "variant": variant.to_dict()}


def pretrained_on(meta: dict) -> str | None:
    """The dataset a checkpoint was pretrained on (None for a random encoder or an old checkpoint)."""
    variant = meta.get("variant")
    return variant.get("dataset") if isinstance(variant, dict) and "weights_sha256" in meta and not str(
        meta["weights_sha256"]).startswith("random-") else None


def check_compatible(meta: dict, index: dict) -> None:
    """A checkpoint fits a dataset when the joint layout is the same (persons, joints, centre, T_max): NTU-60,
    NTU-120 and PKU-MMD share theirs, so a checkpoint transfers between them; NW-UCLA's differs."""
    cfg, v = meta["model_config"], index["variant"]
    got = (v.persons, v.joints, v.centre_joint, v.t_max)
    want = (cfg["persons"], cfg["joints"], cfg["centre"], cfg["t_max"])
    if got != want:
        origin = pretrained_on(meta) or "its dataset"
        raise ValueError(f"the checkpoint's joint layout ({origin}: {want[0]} person(s) x {want[1]} joints, centre "
                         f"{want[2]}, T_max {want[3]}) is not {index['dataset']}'s ({got[0]} x {got[1]}, centre "
                         f"{got[2]}, T_max {got[3]}): it cannot transfer")


def encoder_kind(cfg) -> str:
    """'pretrained', 'random' or 'handcrafted': what a probe or fine-tuning starts from."""
    if getattr(cfg, "features", "encoder") == "handcrafted":
        return "handcrafted"
    return "random" if cfg.random_init is not None else "pretrained"


def provenance(cfg, data: PreparedData, index: dict, meta: dict, started: float) -> dict:
    """What every result records about where it came from."""
    origin = pretrained_on(meta)
    return {"benchmark": cfg.benchmark, "dataset": index["dataset"], "pretrained_on": origin,
            "transfer": origin not in (None, index["dataset"]), "checkpoint": cfg.checkpoint,
            "checkpoint_sha256": meta["weights_sha256"], "random_init": cfg.random_init is not None,
            "dataset_variant": index["variant"].to_dict(), "dataset_identity": data.identity,
            "git_commit": checkpoint.git_commit(), "cpu_policy": resources.policy(),
            "wall_s": round(time.perf_counter() - started, 3)}

# ----------------------------------------------------------------------------- results

def run_folder(cfg) -> Path:
    """Where an evaluation writes eval/: --out, else the run whose checkpoints/ folder holds the checkpoint."""
    if cfg.out:
        return Path(cfg.out)
    if not cfg.checkpoint:
        raise ValueError("--out: an evaluation without --checkpoint needs --out (where its results go)")
    folder = Path(cfg.checkpoint).resolve().parent
    if folder.name != "checkpoints" or folder.parent == folder:
        raise ValueError(f"--out: {cfg.checkpoint} is not in a run's checkpoints/ folder, so its run folder is "
                         f"unknown: say where the results go with --out")
    return folder.parent


def result_path(evaluation: str, cfg, seed: int | None = None) -> Path:
    """<run>/eval/<name>.json of an evaluation's config (LinearConfig, KnnConfig, FinetuneConfig): every result file
    is named by gltr.records.result_name."""
    k = getattr(cfg, "k", None)
    name = result_name(evaluation, cfg.benchmark, getattr(cfg, "percent", None), getattr(cfg, "validation", False),
                       getattr(cfg, "protocol", "cached") == "reference", getattr(cfg, "standardize", False), seed,
                       encoder_kind(cfg), k if k is not None and k != type(cfg).k else None)
    return run_folder(cfg) / "eval" / f"{name}.json"


def topk(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Top-k accuracy in %: the share of rows whose label is among their k highest scores."""
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(1).float().mean().item() * 100


def config_record(cfg) -> dict:
    """A config as a result records it: its fields, `data` as its location (a PreparedData handle too), without
    the random encoder's spec (its sha is the result's checkpoint_sha256)."""
    return {k: v for k, v in asdict(replace(cfg, data=str(cfg.data))).items() if k != "random_init"}


def write_result(path: Path, result: dict) -> None:
    """The result as JSON (without a trained `head`), written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps({k: v for k, v in result.items() if k != "head"}, indent=1) + "\n")


def eval_lock(cfg):
    """Held while an evaluation writes into a run's eval/ folder (results and feature caches): one at a time. A
    missing checkpoint is refused first, so that no eval/ folder is made for it."""
    folder = run_folder(cfg)
    if cfg.checkpoint and not Path(cfg.checkpoint).exists():
        raise FileNotFoundError(f"--checkpoint: {cfg.checkpoint} not found")
    return hold_lock(folder / "eval" / ".lock", "evaluation")
