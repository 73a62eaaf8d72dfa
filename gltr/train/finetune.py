"""Fine-tuning: the whole encoder and a new linear head, trained on labelled clips (docs/evaluation.md).

    gltr finetune --checkpoint runs/x/checkpoints/latest.pt --data data/nwucla --benchmark view
    gltr finetune --random-init --out runs/scratch --data data/nwucla --benchmark view      # from scratch

    gltr semi --checkpoint runs/x/checkpoints/latest.pt --data data/nwucla --benchmark view --percent 5 --seed 0

`fit` is the one supervised training loop. `gltr finetune` runs it on 100 % of the training labels with
MAMP's recipe where it applies to GL-Transformer (`FinetuneConfig`): AdamW, linear warm-up then cosine
decay (per step), layer-wise lr decay (each block below the top gets `layer_decay` times the lr of the one
above; the embeddings the lowest), label smoothing, stochastic depth, the authors' interpolation
augmentation. `validation=True` trains on the training split minus the committed validation list and
scores on that list: for choosing the recipe without touching the test split.

`gltr semi` is the same fine-tuning on a committed class-balanced 1 / 5 / 10 % list (`percent`; the lists
in data_manifests/semi/, or DATA/manifests/semi/ for PKU-MMD) with the semi-supervised recipe (the authors
published none; `gltr.configs.semi_config`): AdamW, lr 1e-4 for the encoder and 1e-3 for the new head, weight decay 0.01
on every parameter, constant lr, batch 64, 100 epochs, dropout as in pretraining. The final epoch's top-1 /
top-5 is the result of both.
"""
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gltr import resources
from gltr.configs import FinetuneConfig
from gltr.model.gltransformer import pool_valid
from gltr.pipeline.sample_lists import read_list, read_validation
from gltr.train.data import LoaderConfig, ShardLoader
from gltr.train.dist import init_distributed
from gltr.train.downstream import (check_compatible, config_record, encoder_kind, eval_lock, load_encoder, provenance,
                                   result_path, topk, write_result)
from gltr.train.prepared import PreparedData
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
    """Train encoder + head for cfg.epochs on `loader` with cfg's recipe (FinetuneConfig's, or semi_config's);
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
    """`gltr finetune` and `gltr semi`: fine-tune encoder + a new linear head on the training split's labels (with
    `cfg.percent`, only the committed list of that % of them: semi-supervised), score the final epoch on the test
    split (or the validation list); write the result JSON under the run's eval/ folder and return it."""
    with eval_lock(cfg):
        _, _, device = init_distributed()
        started = time.perf_counter()
        data = PreparedData.open(cfg.data)                  # read once, passed down
        index = data.index(cfg.benchmark, "train")
        torch.manual_seed(cfg.seed)
        model, meta = load_encoder(cfg.checkpoint and Path(cfg.checkpoint), device, cfg.random_init)
        check_compatible(meta, index)
        torch.manual_seed(cfg.seed)                       # the head's init does not depend on the encoder's source
        head = torch.nn.Linear(model.cfg.width, index["num_classes"]).to(device)
        listed, list_sha, validation_sha, test_split, test_subset = None, None, None, "test", None
        if cfg.percent is not None:
            names, list_sha = read_list(index["dataset"], cfg.benchmark, cfg.percent, cfg.seed, data.location)
            listed = frozenset(names)
        elif cfg.validation:
            held_out, validation_sha = read_validation(index["dataset"], cfg.benchmark, data.location)
            listed = frozenset(data.names(cfg.benchmark, "train")) - held_out
            test_split, test_subset = "train", held_out
        train_loader = ShardLoader(data, cfg.benchmark, "train", LoaderConfig(
            batch_size=cfg.batch_size, workers=cfg.workers, seed=cfg.seed, shuffle=True, interpolation=True,
            subset=listed, shuffle_buffer=256))
        test_loader = ShardLoader(data, cfg.benchmark, test_split, LoaderConfig(
            batch_size=128, workers=cfg.workers, shuffle=False, subset=test_subset))
        history, rss_mb, used = fit(model, head, train_loader, cfg, device)
        logits, labels = predict(model, head, test_loader, device)
        share = f"{cfg.percent}% (seed {cfg.seed})" if cfg.percent is not None else f"100% ({cfg.epochs} epochs)"
        result = {"evaluation": "finetune" if cfg.percent is None else "semi", "protocol": f"fine-tune on {share}",
                  "encoder": encoder_kind(cfg), "split": "validation" if cfg.validation else "test",
                  "percent": cfg.percent, "seed": cfg.seed, "top1": topk(logits, labels, 1),
                  "top5": topk(logits, labels, 5), "train_samples": len(used), "test_samples": len(labels),
                  "validation_list_sha256": validation_sha, "sample_list_sha256": list_sha,
                  **provenance(cfg, data, index, meta, started), "history": history, "rss_mb_per_epoch": rss_mb,
                  "config": config_record(cfg)}
        if cfg.percent is not None:
            result |= {"listed_samples": len(listed), "listed_but_not_prepared": sorted(listed - used),
                       "used_samples": sorted(used)}
        write_result(result_path(result["evaluation"], cfg, cfg.seed), result)
        return result


def check_lists(data, benchmark: str, percents, seeds) -> None:
    """Every committed semi-supervised list of these percents and seeds is there (read_list's error if not): checked
    before any of them trains. `data`: a location or an open PreparedData."""
    data = PreparedData.open(data)
    dataset = data.index(benchmark, "train")["dataset"]
    for percent in percents:
        for seed in seeds:
            read_list(dataset, benchmark, percent, seed, data.location)


def summarize(results: list[dict], cfg: FinetuneConfig) -> dict:
    """mean +/- std (population over seeds) of top-1 / top-5 and what the runs share, written beside the
    per-seed files of fine-tuning or semi-supervised runs that differ only in `seed`."""
    top1, top5, first = np.array([r["top1"] for r in results]), np.array([r["top5"] for r in results]), results[0]
    shared = ("evaluation", "encoder", "split", "benchmark", "dataset", "pretrained_on", "transfer", "random_init",
              "checkpoint_sha256", "dataset_variant", "git_commit", "percent")
    seeds = [r["seed"] for r in results]
    share = f"{cfg.percent}%" if cfg.percent is not None else f"100% ({cfg.epochs} epochs)"
    summary = {**{k: first.get(k) for k in shared}, "protocol": f"fine-tune on {share}, seeds {seeds}",
               "top1": float(top1.mean()), "top1_std": float(top1.std()), "top5": float(top5.mean()),
               "top5_std": float(top5.std()), "seeds": seeds, "per_seed_top1": top1.tolist(),
               "sample_list_sha256": [r["sample_list_sha256"] for r in results] if cfg.percent is not None else None,
               "wall_s": float(sum(r["wall_s"] for r in results))}
    write_result(result_path(summary["evaluation"], cfg), summary)
    return summary
