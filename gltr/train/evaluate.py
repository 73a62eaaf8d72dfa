"""Downstream evaluation of a pretrained encoder: linear probe and kNN (REFERENCE section 6).

    gltr linear --checkpoint runs/x/checkpoints/latest.pt --data data/nwucla --benchmark view
    gltr knn    --checkpoint runs/x/checkpoints/latest.pt --data data/nwucla --benchmark view

Fast by default: the frozen encoder (eval mode) encodes the train and test splits once; the
features (mean of the per-frame representation over valid frames) are cached on disk under
<run>/eval/ with the checkpoint's hash in the name, and the linear classifier trains on them.
`protocol="reference"` reproduces the original instead: the encoder re-runs every epoch with
interpolation augmentation and its dropout left active.
"""
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gltr.model.gltransformer import GLTConfig, GLTransformer, pool_valid
from gltr.train import checkpoint
from gltr.train.data import LoaderConfig, ShardLoader, read_index
from gltr.train.dist import init_distributed

DEFAULT_EPOCHS = {"ntu60": 120, "ntu120": 120, "nwucla": 300}


# ----------------------------------------------------------------------------- encoder

def load_encoder(ckpt: Path | None, device, random_init: dict | None = None) -> tuple[GLTransformer, dict]:
    """(model, meta) from a checkpoint, or a seeded random model when `random_init` gives
    {"model_config": ..., "seed": ...} (the baseline every probe is compared with)."""
    if random_init is not None:
        torch.manual_seed(random_init["seed"])
        model = GLTransformer(GLTConfig(**{**random_init["model_config"],
                                           "intervals": tuple(random_init["model_config"]["intervals"])}))
        meta = {"model_config": random_init["model_config"], "weights_sha256": f"random-seed{random_init['seed']}",
                "variant": random_init.get("variant")}
        return model.to(device), meta
    state, meta = checkpoint.load(ckpt, map_location="cpu")
    cfg = meta["model_config"]
    model = GLTransformer(GLTConfig(**{**cfg, "intervals": tuple(cfg["intervals"])}))
    model.load_state_dict(state["model"])
    return model.to(device), meta


def check_compatible(meta: dict, index: dict) -> None:
    cfg, v = meta["model_config"], index["variant"]
    got = (v["persons"], v["joints"], v["centre_joint"], v["t_max"])
    want = (cfg["persons"], cfg["joints"], cfg["centre"], cfg["t_max"])
    if got != want:
        raise ValueError(f"the checkpoint was trained on persons/joints/centre/T_max {want}, "
                         f"the dataset has {got}")


@torch.no_grad()
def encode(model, loader: ShardLoader, epoch: int, device, dropout: bool = False) -> dict:
    """Pooled features [N, C] float32, labels [N], keys of one pass over a split."""
    model.train(dropout)
    feats, labels, keys = [], [], []
    for batch in loader.epoch(epoch):
        z = model.forward_encoder(batch["motion"].to(device), batch["mask"].to(device))   # [B, T, C]
        feats.append(pool_valid(z, batch["mask"].to(device)).float().cpu())              # [B, C]
        labels.append(batch["label"])
        keys += batch["key"]
    return {"features": torch.cat(feats), "labels": torch.cat(labels), "keys": keys}


def cached_features(model, meta, data, benchmark: str, split: str, cache_dir: Path, device, workers: int) -> dict:
    """encode() once per (checkpoint hash, dataset, benchmark, split); later calls read the cache."""
    dataset_sha = checkpoint.dataset_hash(data)[:12]
    path = cache_dir / f"features-{meta['weights_sha256'][:12]}-{dataset_sha}-{benchmark}-{split}.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    loader = ShardLoader(data, benchmark, split, LoaderConfig(batch_size=64, workers=workers, shuffle=False,
                                                              keep_labels=False))
    out = encode(model, loader, 0, device)
    cache_dir.mkdir(parents=True, exist_ok=True)
    torch.save(out, cache_dir / f".{path.name}.tmp")
    (cache_dir / f".{path.name}.tmp").rename(path)
    return out


# ----------------------------------------------------------------------------- classifier

def topk(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(1).float().mean().item() * 100


def classifier_epoch(head, optimizer, features, labels, batch_size: int, rng: np.random.Generator) -> float:
    """One epoch of Adam on (features, labels) in a seeded random order; mean loss."""
    head.train()
    order = torch.from_numpy(rng.permutation(len(features)))
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        loss = F.cross_entropy(head(features[idx]), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(order)


@torch.no_grad()
def classifier_scores(head, features, labels) -> dict:
    head.eval()
    logits = head(features)
    return {"top1": topk(logits, labels, 1), "top5": topk(logits, labels, 5)}


@dataclass
class LinearConfig:
    data: str
    benchmark: str
    checkpoint: str | None = None
    epochs: int | None = None        # default: 120 NTU, 300 NW-UCLA
    batch_size: int = 1024
    lr: float = 3e-3
    protocol: str = "cached"         # or "reference"
    augment: bool = True             # reference protocol only: interpolation on the training split
    dropout: bool = True             # reference protocol only: dropout left active in the encoder
    seed: int = 0
    workers: int = 2
    out: str | None = None           # default: the checkpoint's run folder
    random_init: dict | None = None  # {"model_config", "seed"}: probe a random encoder instead
    standardize: bool = False        # features standardised with the training split's mean and std


def standardized(train: dict, test: dict) -> tuple[dict, dict]:
    """Features scaled by the training split's per-dimension mean and std (a fixed affine map, so
    the probe stays linear; what MAE's BatchNorm-without-affine before the head does)."""
    mean, std = train["features"].mean(0), train["features"].std(0) + 1e-6
    return ({**train, "features": (train["features"] - mean) / std},
            {**test, "features": (test["features"] - mean) / std})


def run_folder(cfg) -> Path:
    if cfg.out:
        return Path(cfg.out)
    return Path(cfg.checkpoint).resolve().parents[1]


def linear_eval(cfg: LinearConfig) -> dict:
    _, _, device = init_distributed()
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    index = read_index(cfg.data, cfg.benchmark, "train")
    model, meta = load_encoder(cfg.checkpoint and Path(cfg.checkpoint), device, cfg.random_init)
    check_compatible(meta, index)
    for p in model.parameters():
        p.requires_grad_(False)
    run = run_folder(cfg)
    epochs = cfg.epochs or DEFAULT_EPOCHS[index["dataset"]]
    num_classes = index["num_classes"]
    head = torch.nn.Linear(model.cfg.width, num_classes)
    optimizer = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    history = []

    if cfg.protocol == "cached":
        train = cached_features(model, meta, cfg.data, cfg.benchmark, "train", run / "eval", device, cfg.workers)
        test = cached_features(model, meta, cfg.data, cfg.benchmark, "test", run / "eval", device, cfg.workers)
    elif cfg.protocol == "reference":
        loaders = {s: ShardLoader(cfg.data, cfg.benchmark, s, LoaderConfig(
            batch_size=64, workers=cfg.workers, shuffle=False, keep_labels=False, seed=cfg.seed,
            interpolation=cfg.augment and s == "train")) for s in ("train", "test")}
    else:
        raise ValueError(f"protocol must be 'cached' or 'reference', not {cfg.protocol!r}")

    for epoch in range(epochs):
        if cfg.protocol == "reference":                              # the encoder re-runs every epoch
            train = encode(model, loaders["train"], epoch, device, dropout=cfg.dropout)
            test = encode(model, loaders["test"], epoch, device, dropout=cfg.dropout)
        if cfg.standardize and (epoch == 0 or cfg.protocol == "reference"):
            train, test = standardized(train, test)
        rng = np.random.default_rng([cfg.seed, epoch])
        loss = classifier_epoch(head, optimizer, train["features"], train["labels"], cfg.batch_size, rng)
        history.append({"epoch": epoch + 1, "loss": loss, **classifier_scores(head, test["features"], test["labels"])})

    best = max(history, key=lambda h: h["top1"])
    result = {
        "evaluation": "linear", "protocol": cfg.protocol + (" standardized" if cfg.standardize else ""),
        "benchmark": cfg.benchmark, "dataset": index["dataset"],
        "top1": history[-1]["top1"], "top5": history[-1]["top5"],
        "best_epoch_on_test_set": {"epoch": best["epoch"], "top1": best["top1"], "top5": best["top5"],
                                   "note": "selected on the test set: not a result"},
        "epochs": epochs, "batch_size": cfg.batch_size, "lr": cfg.lr, "seed": cfg.seed,
        "train_samples": len(train["labels"]), "test_samples": len(test["labels"]),
        "checkpoint": cfg.checkpoint, "checkpoint_sha256": meta["weights_sha256"],
        "random_init": cfg.random_init is not None, "sample_list_sha256": None,
        "dataset_variant": index["variant"], "dataset_manifest_sha256": checkpoint.dataset_hash(cfg.data),
        "git_commit": checkpoint.git_commit(), "wall_s": round(time.perf_counter() - started, 3),
        "history": history, "config": {k: v for k, v in asdict(cfg).items() if k != "random_init"},
    }
    name = f"linear-{cfg.benchmark}" + ("-reference" if cfg.protocol == "reference" else "") \
        + ("-std" if cfg.standardize else "") + ("-random" if cfg.random_init is not None else "")
    write_result(run / "eval" / f"{name}.json", result)
    result["head"] = head
    return result


def write_result(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v for k, v in result.items() if k != "head"}, indent=1) + "\n")


# ----------------------------------------------------------------------------- kNN

def knn_predict(train_f, train_y, test_f, k: int, num_classes: int, chunk: int = 1024) -> torch.Tensor:
    """Class scores [N_test, classes]: similarity-weighted vote of the k nearest (cosine) training samples."""
    train_f, test_f = F.normalize(train_f, dim=1), F.normalize(test_f, dim=1)
    k = min(k, len(train_f))
    scores = []
    for start in range(0, len(test_f), chunk):
        sim = test_f[start:start + chunk] @ train_f.T                       # [n, N_train]
        top, idx = sim.topk(k, dim=1)                                        # [n, k]
        votes = torch.zeros(len(sim), num_classes)
        votes.scatter_add_(1, train_y[idx], top)
        scores.append(votes)
    return torch.cat(scores)


@dataclass
class KnnConfig:
    data: str
    benchmark: str
    checkpoint: str | None = None
    k: int = 20
    workers: int = 2
    out: str | None = None
    random_init: dict | None = None


def knn_eval(cfg: KnnConfig) -> dict:
    _, _, device = init_distributed()
    started = time.perf_counter()
    index = read_index(cfg.data, cfg.benchmark, "train")
    model, meta = load_encoder(cfg.checkpoint and Path(cfg.checkpoint), device, cfg.random_init)
    check_compatible(meta, index)
    run = run_folder(cfg)
    train = cached_features(model, meta, cfg.data, cfg.benchmark, "train", run / "eval", device, cfg.workers)
    test = cached_features(model, meta, cfg.data, cfg.benchmark, "test", run / "eval", device, cfg.workers)
    scores = knn_predict(train["features"], train["labels"], test["features"], cfg.k, index["num_classes"])
    result = {"evaluation": "knn", "protocol": f"cosine k={cfg.k}", "benchmark": cfg.benchmark,
              "dataset": index["dataset"], "top1": topk(scores, test["labels"], 1),
              "top5": topk(scores, test["labels"], 5), "k": cfg.k, "checkpoint": cfg.checkpoint,
              "checkpoint_sha256": meta["weights_sha256"], "random_init": cfg.random_init is not None,
              "sample_list_sha256": None, "dataset_variant": index["variant"],
              "dataset_manifest_sha256": checkpoint.dataset_hash(cfg.data), "git_commit": checkpoint.git_commit(),
              "wall_s": round(time.perf_counter() - started, 3)}
    write_result(run / "eval" / (f"knn-{cfg.benchmark}" + ("-random" if cfg.random_init is not None else "") + ".json"),
                 result)
    return result
