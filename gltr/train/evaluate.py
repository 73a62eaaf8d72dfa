"""Downstream evaluation of a pretrained encoder: linear probe and kNN (docs/evaluation.md).

    gltr linear --checkpoint runs/x/checkpoints/latest.pt --data data/nwucla --benchmark view
    gltr knn    --checkpoint runs/x/checkpoints/latest.pt --data data/nwucla --benchmark view

Fast by default: the frozen encoder (eval mode) encodes the train and test splits once; the
features (mean of the per-frame representation over valid frames) are cached on disk under
<run>/eval/ with the checkpoint's hash in the name, and the linear classifier trains on them.
`protocol="reference"` reproduces the original instead: the encoder re-runs every epoch with
interpolation augmentation and its dropout left active.

Every probe can also run on the two baselines a pretrained encoder must beat: the same preset
with random weights (`random_init`), and hand-crafted features (`features="handcrafted"`: per
joint and coordinate, the mean and std of the motion input over valid frames, standardised on
the training split). `validation=True` trains on the training split minus the committed
validation list (data_manifests/validation/) and scores on that list: for choosing a recipe
without touching the test split.
"""
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gltr import resources
from gltr.safety import atomic_file
from gltr.configs import KnnConfig, LinearConfig
from gltr.model.gltransformer import pool_valid
from gltr.pipeline.sample_lists import read_validation
from gltr.train import checkpoint
from gltr.train.data import LoaderConfig, ShardLoader
from gltr.train.downstream import (check_compatible, config_record, encoder_kind, eval_lock, load_encoder, provenance,
                                   result_path, run_folder, topk, write_result)
from gltr.train.prepared import PreparedData
from gltr.train.dist import init_distributed

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


def read_cache(path: Path, identity: dict) -> dict | None:
    """A feature cache if it is intact and is the one `identity` asks for (checkpoint, dataset, benchmark,
    split, with a digest of its contents); None if it is missing, damaged, tampered with or another's."""
    if not path.exists():
        return None
    try:
        cache, _ = checkpoint.load_file(path)                  # a regular file only, never code
        content = {k: cache[k] for k in ("features", "labels", "keys")}
        ok = cache["identity"] == identity and cache["digest"] == checkpoint.state_digest(content)
        ok = ok and len(content["features"]) == len(content["labels"]) == len(content["keys"])
    except Exception:                                   # unreadable, truncated, crafted: rebuilt, never trusted
        return None
    return content if ok else None


def cached_features(model, meta, data, benchmark: str, split: str, cache_dir: Path, device, workers: int) -> dict:
    """encode() once per (checkpoint hash, dataset, benchmark, split); later calls read the cache, which holds
    what it is of and a digest of its contents, and is rebuilt when either does not match."""
    dataset_id = PreparedData.open(data).identity
    weights = meta["weights_sha256"]
    identity = {"checkpoint_sha256": weights, "dataset_identity": dataset_id, "benchmark": benchmark, "split": split}
    short = weights if weights.startswith("random-") else weights[:12]      # random-<config sha>-seed<s>, whole
    path = cache_dir / f"features-{short}-{dataset_id[:12]}-{benchmark}-{split}.pt"
    cached = read_cache(path, identity)
    if cached is not None:
        return cached
    loader = ShardLoader(data, benchmark, split, LoaderConfig(batch_size=64, workers=workers, shuffle=False))
    out = encode(model, loader, 0, device)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        torch.save({**out, "identity": identity, "digest": checkpoint.state_digest(out)}, tmp)
    return out


@torch.no_grad()
def handcrafted_features(data, benchmark: str, split: str, workers: int) -> dict:
    """Per sample: mean and std over valid frames of every motion coordinate -> [N, 2 * P * K * 3]."""
    loader = ShardLoader(data, benchmark, split, LoaderConfig(batch_size=256, workers=workers, shuffle=False))
    feats, labels, keys = [], [], []
    for batch in loader.epoch(0):
        x = batch["motion"].flatten(2).double()                            # [B, T, P*K*3]
        mask = batch["mask"]
        mean = pool_valid(x, mask)                                          # [B, P*K*3]
        std = pool_valid((x - mean[:, None]) ** 2, mask).sqrt()
        feats.append(torch.cat([mean, std], dim=1).float())
        labels.append(batch["label"])
        keys += batch["key"]
    return {"features": torch.cat(feats), "labels": torch.cat(labels), "keys": keys}


def split_off(features: dict, held_out: frozenset) -> tuple[dict, dict]:
    """(rest, held out) of a split's features by sample key."""
    held = torch.tensor([k in held_out for k in features["keys"]])
    if not held.any():
        raise ValueError("none of the validation samples is in this dataset's training split")

    def take(sel):
        return {"features": features["features"][sel], "labels": features["labels"][sel],
                "keys": [k for k, h in zip(features["keys"], sel.tolist()) if h]}
    return take(~held), take(held)


def probe_features(cfg, data: PreparedData, index: dict, run: Path, device) -> tuple[dict, dict, dict, dict]:
    """(train, test, meta, basis: what the features are of) for a probe on cached features: the encoder's (pretrained or
    random) or the hand-crafted ones; with `cfg.validation` the held-out training subjects are the test."""
    if cfg.features == "handcrafted":
        train, test = (handcrafted_features(data, cfg.benchmark, s, cfg.workers) for s in ("train", "test"))
        meta = {"weights_sha256": None}
    elif cfg.features == "encoder":
        model, meta = load_encoder(cfg.checkpoint and Path(cfg.checkpoint), device, cfg.random_init)
        check_compatible(meta, index)
        train, test = (cached_features(model, meta, data, cfg.benchmark, s, run / "eval", device, cfg.workers)
                       for s in ("train", "test"))
    else:
        raise ValueError(f"features must be 'encoder' or 'handcrafted', not {cfg.features!r}")
    list_sha = None
    if cfg.validation:
        held_out, list_sha = read_validation(index["dataset"], cfg.benchmark, data.location)
        train, test = split_off(train, held_out)
    if cfg.features == "handcrafted":
        train, test = standardized(train, test)
    basis = {"encoder": encoder_kind(cfg), "split": "validation" if cfg.validation else "test",
             "validation_list_sha256": list_sha}
    return train, test, meta, basis


# ----------------------------------------------------------------------------- classifier

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


def standardized(train: dict, test: dict) -> tuple[dict, dict]:
    """Features scaled by the training split's per-dimension mean and std (a fixed affine map, so
    the probe stays linear; what MAE's BatchNorm-without-affine before the head does)."""
    mean, std = train["features"].mean(0), train["features"].std(0) + 1e-6
    return ({**train, "features": (train["features"] - mean) / std},
            {**test, "features": (test["features"] - mean) / std})


def linear_eval(cfg: LinearConfig) -> dict:
    """`gltr linear`: train a linear classifier on the frozen encoder's clip features of the training split and
    score it on the test split (or the validation list); write the result JSON under the run's eval/ folder and
    return it (top-1, top-5, history, provenance) with the trained `head`."""
    with eval_lock(cfg):
        _, _, device = init_distributed()
        started = time.perf_counter()
        torch.manual_seed(cfg.seed)
        data = PreparedData.open(cfg.data)                  # read once, passed down
        index = data.index(cfg.benchmark, "train")
        run = run_folder(cfg)
        epochs = index["variant"].info.probe_epochs if cfg.epochs is None else cfg.epochs
        if cfg.protocol == "cached":
            train, test, meta, basis = probe_features(cfg, data, index, run, device)
            width = train["features"].shape[1]
        elif cfg.protocol == "reference":
            if cfg.features != "encoder" or cfg.validation:
                raise ValueError("the reference protocol re-runs an encoder on the test split: no hand-crafted "
                                 "features or validation there (use the cached protocol)")
            model, meta = load_encoder(cfg.checkpoint and Path(cfg.checkpoint), device, cfg.random_init)
            check_compatible(meta, index)
            basis = {"encoder": encoder_kind(cfg), "split": "test", "validation_list_sha256": None}
            loaders = {s: ShardLoader(data, cfg.benchmark, s, LoaderConfig(
                batch_size=64, workers=cfg.workers, shuffle=False, seed=cfg.seed,
                interpolation=cfg.augment and s == "train")) for s in ("train", "test")}
            width = model.cfg.width
        else:
            raise ValueError(f"protocol must be 'cached' or 'reference', not {cfg.protocol!r}")
        torch.manual_seed(cfg.seed)         # the head's init must not depend on whether features came from the cache
        head = torch.nn.Linear(width, index["num_classes"])
        optimizer = torch.optim.Adam(head.parameters(), lr=cfg.lr)
        history, rss_mb = [], []                                        # rss_mb: this process's memory per epoch

        for epoch in range(epochs):
            if cfg.protocol == "reference":                              # the encoder re-runs every epoch
                train = encode(model, loaders["train"], epoch, device, dropout=cfg.dropout)
                test = encode(model, loaders["test"], epoch, device, dropout=cfg.dropout)
            if cfg.standardize and (epoch == 0 or cfg.protocol == "reference"):
                train, test = standardized(train, test)
            rng = np.random.default_rng([cfg.seed, epoch])
            loss = classifier_epoch(head, optimizer, train["features"], train["labels"], cfg.batch_size, rng)
            history.append({"epoch": epoch + 1, "loss": loss, **classifier_scores(head, test["features"], test["labels"])})
            rss_mb.append(resources.rss_mb())

        best = max(history, key=lambda h: h["top1"])
        result = {
            "evaluation": "linear", "protocol": cfg.protocol + (" standardized" if cfg.standardize else ""), **basis,
            "top1": history[-1]["top1"], "top5": history[-1]["top5"],
            "best_epoch_on_test_set": {"epoch": best["epoch"], "top1": best["top1"], "top5": best["top5"],
                                       "note": f"selected on the {basis['split']} set: not a result"},
            "epochs": epochs, "batch_size": cfg.batch_size, "lr": cfg.lr, "seed": cfg.seed,
            "train_samples": len(train["labels"]), "test_samples": len(test["labels"]), "sample_list_sha256": None,
            **provenance(cfg, data, index, meta, started),
            "history": history, "rss_mb_per_epoch": rss_mb, "config": config_record(cfg),
        }
        write_result(result_path("linear", cfg), result)
        result["head"] = head
        return result


# ----------------------------------------------------------------------------- kNN

def knn_predict(train_f, train_y, test_f, k: int, num_classes: int, chunk: int = 1024) -> torch.Tensor:
    """Class scores [N_test, classes] of the k nearest training samples by cosine similarity, each with one vote:
    scikit-learn's KNeighborsClassifier(metric="cosine"), the kNN of Predict & Cluster (Su et al., CVPR 2020)
    and the skeleton SSL papers that report kNN after it. A tie in votes goes to the smaller class index (as
    scikit-learn's); the scores order classes by (votes, then that rule), so kNN-1 is the nearest neighbour's
    label. (Before 2026-12-04 neighbours voted with their raw cosine, so a negative one counted against its class.)"""
    if k < 1 or len(train_f) == 0:
        raise ValueError(f"kNN needs k >= 1 and a training sample, not k = {k} with {len(train_f)}")
    train_f, test_f = F.normalize(train_f, dim=1), F.normalize(test_f, dim=1)
    k = min(k, len(train_f))
    order = torch.arange(num_classes - 1, -1, -1, dtype=torch.float64)         # tie-break: smaller class first
    scores = []
    for start in range(0, len(test_f), chunk):
        sim = test_f[start:start + chunk] @ train_f.T                       # [n, N_train]
        idx = sim.topk(k, dim=1).indices                                    # [n, k]
        votes = torch.zeros(len(sim), num_classes, dtype=torch.float64)
        votes.scatter_add_(1, train_y[idx], torch.ones(idx.shape, dtype=torch.float64))
        scores.append(votes * num_classes + order)
    return torch.cat(scores)


def knn_eval(cfg: KnnConfig) -> dict:
    """`gltr knn`: each test clip's class by a vote of its k nearest training clips (cached features); write the
    result JSON under the run's eval/ folder and return it."""
    with eval_lock(cfg):
        _, _, device = init_distributed()
        started = time.perf_counter()
        data = PreparedData.open(cfg.data)
        index = data.index(cfg.benchmark, "train")
        train, test, meta, basis = probe_features(cfg, data, index, run_folder(cfg), device)
        scores = knn_predict(train["features"], train["labels"], test["features"], cfg.k, index["num_classes"])
        result = {"evaluation": "knn", "protocol": f"cosine k={cfg.k}", **basis, "top1": topk(scores, test["labels"], 1),
                  "top5": topk(scores, test["labels"], 5) if cfg.k >= 5 else None,    # fewer neighbours than 5 classes
                  "k": min(cfg.k, len(train["labels"])), "train_samples": len(train["labels"]),
                  "test_samples": len(test["labels"]), "sample_list_sha256": None, **provenance(cfg, data, index, meta, started)}
        write_result(result_path("knn", cfg), result)
        return result
