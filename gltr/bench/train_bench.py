"""Training throughput on this machine, in one run:

- forward+backward samples/s of a preset with the real clips' length distribution, batches
  padded only to their longest clip (length-bucketed) vs padded to T_max (as the original);
- the input pipeline's samples/s on one worker: tar read, decode, shuffle, interpolation,
  shear, bucketing, collate and the MPDP labels of the batch.
"""
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from gltr.model.gltransformer import GLTransformer, ntu, nwucla
from gltr.pipeline.mpdp import mpdp_labels
from gltr.train.data import LoaderConfig, ShardLoader

ORIGINAL_FEEDER_MS_PER_SAMPLE = 2.7   # the original feeder, measured on this machine (issue 3)


def clip_lengths(real: Path) -> dict:
    """Valid lengths of the real NTU files and of the NW-UCLA clips (capped at their T_max)."""
    from gltr.pipeline.sample import read_ntu, read_ucla
    from gltr.pipeline.names import UCLA_ACTIONS, parse_ucla_name
    from gltr.datasets import make_variant
    if not real.is_dir():
        rng = np.random.default_rng(0)
        return {"ntu": rng.integers(40, 160, 21).tolist(), "nwucla": rng.integers(10, 51, 64).tolist()}
    v = make_variant("ntu120")
    ntu_l = [len(read_ntu(p, v).motion) for p in sorted((real / "ntu_skeleton").glob("*.skeleton"))]
    vu = make_variant("nwucla")
    files = sorted((real / "nw_ucla" / "all_sqe").glob("*.json"))[::23]
    ucla_l = [len(read_ucla(p, vu, UCLA_ACTIONS.index(parse_ucla_name(p.stem)["action"])).motion) for p in files]
    return {"ntu": ntu_l, "nwucla": ucla_l}


def step_throughput(cfg, lengths: list, batch_size: int, pad_to_max: bool, steps: int) -> float:
    """Samples/s of forward + backward (train mode, fp32) over batches of sorted lengths."""
    torch.manual_seed(0)
    model = GLTransformer(cfg).train()
    order = sorted(lengths)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng = np.random.default_rng(0)
    picks = [batches[i] for i in rng.permutation(len(batches))[:steps]]
    samples, seconds = 0, 0.0
    for i, lens in enumerate([picks[0]] + picks):            # the first (warm-up) step is not timed
        T = cfg.t_max if pad_to_max else max(lens)
        motion = torch.randn(len(lens), T, cfg.persons, cfg.joints, 3) * 0.1
        mask = torch.arange(T)[None] < torch.tensor(lens)[:, None]
        start = time.perf_counter()
        d, m = model(motion, mask)
        (d.float().mean() + m.float().mean()).backward()
        model.zero_grad(set_to_none=True)
        if i:
            seconds += time.perf_counter() - start
            samples += len(lens)
    return samples / seconds


def loader_throughput(out: Path, real: Path) -> dict:
    from gltr.bench.prepare_bench import make_raw
    from gltr.pipeline.prepare import prepare
    work = out / "train_work"
    shutil.rmtree(work, ignore_errors=True)
    make_raw(work / "raw", 40, real)
    prepare("ntu120", work / "raw", work / "data", shard_size=64, log=lambda l: None)
    cfg = LoaderConfig(batch_size=32, workers=0, interpolation=True, shear=0.3, keep_labels=False)
    loader = ShardLoader(work / "data", "xsub", "train", cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                                  # one worker = one core
    best_load, best_labels = float("inf"), float("inf")
    for epoch in range(3):
        start, n, batches = time.perf_counter(), 0, []
        for batch in loader.epoch(epoch):
            batches.append(batch["motion"])
            n += len(batch["key"])
        load = (time.perf_counter() - start) / n
        start = time.perf_counter()
        for motion in batches:
            mpdp_labels(motion)
        best_load, best_labels = min(best_load, load), min(best_labels, (time.perf_counter() - start) / n)
    torch.set_num_threads(threads)
    shutil.rmtree(work, ignore_errors=True)
    worker_ms, total_ms = best_load * 1000, (best_load + best_labels) * 1000
    return {"samples": n, "batch_size": 32,
            "worker_ms_per_sample": round(worker_ms, 3),
            "labels_ms_per_sample_cpu_1_thread": round(best_labels * 1000, 3),
            "ms_per_sample_with_labels_on_cpu": round(total_ms, 3),
            "original_feeder_ms_per_sample": ORIGINAL_FEEDER_MS_PER_SAMPLE,
            "speedup_vs_original_feeder_worker": round(ORIGINAL_FEEDER_MS_PER_SAMPLE / worker_ms, 1),
            "speedup_vs_original_feeder_with_labels_on_cpu": round(ORIGINAL_FEEDER_MS_PER_SAMPLE / total_ms, 1),
            "note": "worker = tar read, decode, shuffle, interpolation, shear, bucketing, collate; the MPDP labels "
                    "are computed batched on the training device (here timed on one CPU thread)"}


def run(out: Path, real: Path) -> dict:
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    lengths = clip_lengths(real)
    result = {"device": "cpu", "threads": torch.get_num_threads(), "precision": "fp32"}
    for name, cfg, batch, steps in (("ntu", ntu(), 2, 3), ("nwucla", nwucla(), 16, 4)):
        bucketed = step_throughput(cfg, lengths[name], batch, False, steps)
        padded = step_throughput(cfg, lengths[name], batch, True, steps)
        result[name] = {"batch_size": batch, "timed_steps": steps, "mean_length": round(float(np.mean(lengths[name])), 1),
                        "t_max": cfg.t_max, "bucketed_samples_per_s": round(bucketed, 3),
                        "padded_to_t_max_samples_per_s": round(padded, 3),
                        "speedup_bucketed_vs_padded": round(bucketed / padded, 2)}
    result["loader"] = loader_throughput(out, real)
    result["targets"] = {"ntu speedup_bucketed_vs_padded": ">= 2.5", "loader speedup_vs_original_feeder": ">= 10 per sample"}
    return result
