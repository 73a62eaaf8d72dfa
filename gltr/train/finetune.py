"""Fine-tuning: the whole encoder and a new linear head, trained on labelled clips (docs/evaluation.md).

    gltr finetune --checkpoint runs/x/checkpoints/latest.pt --data data/nwucla --benchmark view
    gltr finetune --random-init --out runs/scratch --data data/nwucla --benchmark view      # from scratch

`fit` is the one supervised training loop: `gltr finetune` runs it on 100 % of the training labels,
`gltr semi` (gltr/train/semi.py) on a committed 1 / 5 / 10 % list. The recipe follows MAMP's where it
applies to GL-Transformer: AdamW, linear warm-up then cosine decay (per step), layer-wise lr decay
(each block below the top gets `layer_decay` times the lr of the one above; the embeddings the
lowest), label smoothing, stochastic depth, the authors' interpolation augmentation; the final
epoch is the result. `validation=True` trains on the training split minus the committed validation
list and scores on that list: for choosing the recipe without touching the test split.
"""
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gltr import resources
from gltr.configs import FinetuneConfig
from gltr.model.gltransformer import pool_valid
from gltr.pipeline.sample_lists import read_validation
from gltr.train.data import LoaderConfig, ShardLoader, split_names
from gltr.train.index import read_index
from gltr.train.dist import init_distributed
from gltr.train.evaluate import (check_compatible, load_encoder, provenance, run_folder, run_lock, topk,
                                 write_result)
from gltr.train.schedule import lr_scale


def layer_of(name: str, depth: int) -> int:
    """0 for the token embeddings, i + 1 for block i, depth + 1 for the final norm and output projection."""
    if name.startswith("embed_"):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return depth + 1


def param_groups(model, head, lr: float, head_lr: float, layer_decay: float, weight_decay: float,
                 decay_all: bool = False) -> list[dict]:
    """AdamW groups: encoder parameters at lr * layer_decay ** (depth + 1 - layer), the head at head_lr; biases,
    norms and positional embeddings (1-d tensors and `pos`) without weight decay unless `decay_all`."""
    depth, groups = model.cfg.depth, {}
    for name, p in model.named_parameters():
        if name.startswith("head_"):                                   # the MPDP heads are not fine-tuned
            p.requires_grad_(False)
            continue
        layer = layer_of(name, depth)
        decay = 0.0 if not decay_all and (p.ndim == 1 or name.endswith(".pos")) else weight_decay
        key = (layer, decay)
        groups.setdefault(key, {"params": [], "lr": lr * layer_decay ** (depth + 1 - layer), "weight_decay": decay})
        groups[key]["params"].append(p)
    for decay, params in ((weight_decay, [head.weight]), (weight_decay if decay_all else 0.0, [head.bias])):
        groups[("head", decay)] = {"params": params, "lr": head_lr, "weight_decay": decay}
    for g in groups.values():
        g["base_lr"] = g["lr"]
    return list(groups.values())


def set_drop_path(model, rate: float) -> None:
    """Stochastic depth linspace(0, rate, depth) over the blocks, as the model's own init spreads it."""
    depth = len(model.blocks)
    for i, block in enumerate(model.blocks):
        block.drop_path.p = rate * i / max(depth - 1, 1)


def fit(model, head, loader: ShardLoader, cfg, device) -> tuple[list[dict], list, set]:
    """Train encoder + head for cfg.epochs on `loader` with cfg's recipe (FinetuneConfig or SemiConfig);
    return the per-epoch {"epoch", "loss"}, this process's RSS (MB) after each epoch and the keys of the
    samples seen."""
    if cfg.drop_path is not None:
        set_drop_path(model, cfg.drop_path)
    head_lr = cfg.head_lr if cfg.head_lr is not None else cfg.lr
    optimizer = torch.optim.AdamW(param_groups(model, head, cfg.lr, head_lr, cfg.layer_decay, cfg.weight_decay,
                                               cfg.weight_decay_all))
    steps, total = 0, cfg.epochs * len(loader)
    warmup = cfg.warmup_epochs * len(loader)
    history, rss_mb, used = [], [], set()

    # ------------------------------------------------------------------ the training loop
    for epoch in range(cfg.epochs):
        resources.adjust()                                   # neighbours came or went: re-choose the threads
        model.train()
        head.train()
        losses = []
        for batch in loader.epoch(epoch):
            if epoch == 0:
                used.update(batch["key"])
            scale = lr_scale(steps, total, warmup, cfg.schedule)
            for g in optimizer.param_groups:
                g["lr"] = g["base_lr"] * scale
            mask = batch["mask"].to(device)
            z = pool_valid(model.forward_encoder(batch["motion"].to(device), mask), mask)     # [B, C]
            loss = F.cross_entropy(head(z), batch["label"].to(device), label_smoothing=cfg.label_smoothing)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the fine-tuning loss is {loss.item()} at epoch {epoch + 1}: "
                                         f"lower --lr or check the data")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            steps += 1
        resources.release_memory()
        history.append({"epoch": epoch + 1, "loss": sum(losses) / len(losses)})
        rss_mb.append(resources.rss_mb())                              # this process's memory per epoch
    return history, rss_mb, used


@torch.no_grad()
def predict(model, head, loader: ShardLoader, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [N, classes], labels [N]) of one pass in eval mode."""
    model.eval()
    head.eval()
    logits, labels = [], []
    for batch in loader.epoch(0):
        mask = batch["mask"].to(device)
        logits.append(head(pool_valid(model.forward_encoder(batch["motion"].to(device), mask), mask)).float().cpu())
        labels.append(batch["label"])
    return torch.cat(logits), torch.cat(labels)


def finetune_eval(cfg: FinetuneConfig) -> dict:
    with run_lock(cfg):
        return _finetune_eval(cfg)


def _finetune_eval(cfg: FinetuneConfig) -> dict:
    _, _, device = init_distributed()
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    index = read_index(cfg.data, cfg.benchmark, "train")
    model, meta = load_encoder(cfg.checkpoint and Path(cfg.checkpoint), device, cfg.random_init)
    check_compatible(meta, index)
    torch.manual_seed(cfg.seed)                           # the head's init does not depend on the encoder's source
    head = torch.nn.Linear(model.cfg.width, index["num_classes"]).to(device)
    list_sha, train_subset, test_split, test_subset = None, None, "test", None
    if cfg.validation:
        held_out, list_sha = read_validation(index["dataset"], cfg.benchmark, cfg.data)
        train_subset = frozenset(split_names(cfg.data, cfg.benchmark, "train")) - held_out
        test_split, test_subset = "train", held_out
    train_loader = ShardLoader(cfg.data, cfg.benchmark, "train", LoaderConfig(
        batch_size=cfg.batch_size, workers=cfg.workers, seed=cfg.seed, shuffle=True, interpolation=True,
        subset=train_subset, shuffle_buffer=256))
    test_loader = ShardLoader(cfg.data, cfg.benchmark, test_split, LoaderConfig(
        batch_size=128, workers=cfg.workers, shuffle=False, subset=test_subset))
    history, rss_mb, used = fit(model, head, train_loader, cfg, device)
    logits, labels = predict(model, head, test_loader, device)
    encoder = "random" if cfg.random_init is not None else "pretrained"
    result = {"evaluation": "finetune", "protocol": f"fine-tune on 100% ({cfg.epochs} epochs)", "encoder": encoder,
              "split": "validation" if cfg.validation else "test", "seed": cfg.seed,
              "top1": topk(logits, labels, 1), "top5": topk(logits, labels, 5),
              "train_samples": len(used), "test_samples": len(labels), "validation_list_sha256": list_sha,
              "sample_list_sha256": None, **provenance(cfg, index, meta, started), "history": history,
              "rss_mb_per_epoch": rss_mb,
              "config": {k: v for k, v in asdict(cfg).items() if k != "random_init"}}
    write_result(run_folder(cfg) / "eval" / f"{result_stem(cfg, cfg.seed)}.json", result)
    return result


def result_stem(cfg: FinetuneConfig, seed: int | None) -> str:
    """eval/<stem>.json: finetune-view[-val][-seedN][-random]; without a seed, the seeds' summary."""
    return (f"finetune-{cfg.benchmark}" + ("-val" if cfg.validation else "") + (f"-seed{seed}" if seed is not None else "")
            + ("-random" if cfg.random_init is not None else ""))


def seed_summary(results: list[dict], protocol: str) -> dict:
    """mean +/- std (population over seeds) of top-1 / top-5 and what the runs share (semi and finetune)."""
    top1, top5, first = np.array([r["top1"] for r in results]), np.array([r["top5"] for r in results]), results[0]
    shared = ("evaluation", "encoder", "split", "benchmark", "dataset", "pretrained_on", "transfer", "random_init",
              "checkpoint_sha256", "dataset_variant", "git_commit")
    return {**{k: first.get(k) for k in shared}, "protocol": protocol, "top1": float(top1.mean()),
            "top1_std": float(top1.std()), "top5": float(top5.mean()), "top5_std": float(top5.std()),
            "seeds": [r["seed"] for r in results], "per_seed_top1": top1.tolist(),
            "wall_s": float(sum(r["wall_s"] for r in results))}


def summarize_finetune(results: list[dict], cfg: FinetuneConfig) -> dict:
    """The seeds' summary, written beside the per-seed files."""
    summary = seed_summary(results, f"fine-tune on 100% ({cfg.epochs} epochs), seeds {[r['seed'] for r in results]}")
    write_result(run_folder(cfg) / "eval" / f"{result_stem(cfg, None)}.json", summary)
    return summary
