"""Semi-supervised evaluation: fine-tune encoder + linear head on a committed class-balanced list.

    gltr semi --checkpoint runs/x/checkpoints/latest.pt --data data/nwucla --benchmark view --percent 5 --seed 0

Recipe (the authors published none; `SemiConfig`): the listed training samples only
(data_manifests/semi/..., or DATA/manifests/semi/ for PKU-MMD), interpolation augmentation, AdamW (lr 1e-4 for the encoder, 1e-3 for the
new head, weight decay 0.01 on every parameter, constant lr), batch 64, 100 epochs, dropout as in
pretraining; the final epoch's top-1 / top-5 on the full test split is the result. The training
loop is `gltr.train.finetune.fit`, shared with `gltr finetune`.
"""
import time
from dataclasses import asdict
from pathlib import Path

import torch

from gltr.configs import SemiConfig
from gltr.pipeline.sample_lists import read_list
from gltr.train.data import LoaderConfig, ShardLoader
from gltr.train.index import read_index
from gltr.train.dist import init_distributed
from gltr.train.finetune import fit, predict, seed_summary
from gltr.train.evaluate import (check_compatible, load_encoder, provenance, run_folder, run_lock, topk,
                                 write_result)


def semi_eval(cfg: SemiConfig) -> dict:
    with run_lock(cfg):
        return _semi_eval(cfg)


def _semi_eval(cfg: SemiConfig) -> dict:
    _, _, device = init_distributed()
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    index = read_index(cfg.data, cfg.benchmark, "train")
    names, list_sha = read_list(index["dataset"], cfg.benchmark, cfg.percent, cfg.seed, cfg.data)
    model, meta = load_encoder(cfg.checkpoint and Path(cfg.checkpoint), device, cfg.random_init)
    check_compatible(meta, index)
    head = torch.nn.Linear(model.cfg.width, index["num_classes"]).to(device)
    train_loader = ShardLoader(cfg.data, cfg.benchmark, "train", LoaderConfig(
        batch_size=cfg.batch_size, workers=cfg.workers, seed=cfg.seed, shuffle=True, interpolation=True,
        subset=frozenset(names), shuffle_buffer=256))
    test_loader = ShardLoader(cfg.data, cfg.benchmark, "test", LoaderConfig(
        batch_size=128, workers=cfg.workers, shuffle=False))
    history, rss_mb, used = fit(model, head, train_loader, cfg, device)
    logits, labels = predict(model, head, test_loader, device)
    missing = sorted(set(names) - used)
    result = {"evaluation": "semi", "protocol": f"fine-tune on {cfg.percent}% (seed {cfg.seed})",
              "encoder": "random" if cfg.random_init is not None else "pretrained", "split": "test",
              "percent": cfg.percent, "seed": cfg.seed, "top1": topk(logits, labels, 1), "top5": topk(logits, labels, 5),
              "train_samples": len(used), "listed_samples": len(names), "listed_but_not_prepared": missing,
              "test_samples": len(labels), "sample_list_sha256": list_sha, **provenance(cfg, index, meta, started),
              "history": history, "rss_mb_per_epoch": rss_mb, "config": {k: v for k, v in asdict(cfg).items() if k != "random_init"},
              "used_samples": sorted(used)}
    run = run_folder(cfg)
    write_result(run / "eval" / f"semi-{cfg.benchmark}-{cfg.percent}pct-seed{cfg.seed}.json", result)
    return result


def summarize_seeds(results: list[dict], run: Path) -> dict:
    """mean +/- std (population over seeds) of top-1 / top-5, written beside the per-seed files."""
    first = results[0]
    summary = {**seed_summary(results, f"fine-tune on {first['percent']}%, seeds {[r['seed'] for r in results]}"),
               "percent": first["percent"], "sample_list_sha256": [r["sample_list_sha256"] for r in results]}
    write_result(run / "eval" / f"semi-{first['benchmark']}-{first['percent']}pct.json", summary)
    return summary
