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



def clip_lengths(real: Path) -> dict:
    """Valid lengths of the real NTU files and of the NW-UCLA clips (capped at their T_max)."""
    from gltr.pipeline.sample import read_ntu, read_ucla
    from gltr.datasets import UCLA_ACTIONS
    from gltr.pipeline.names import parse_ucla_name
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


def original_style_feeder(motions: list, t_max: int, rng) -> float:
    """Seconds per sample of a feeder doing the original's per-sample work: the clip zero-padded to
    T_max, interpolated on the padded array, its MPDP labels computed for that one sample (one thread)."""
    from gltr.train.augment import interpolate
    start = time.perf_counter()
    for m in motions:
        padded = np.zeros((t_max, *m.shape[1:]), np.float32)
        padded[:len(m)] = m
        x = interpolate(padded, rng, 0.1, t_max)
        mpdp_labels(torch.from_numpy(np.ascontiguousarray(x))[None])
    return (time.perf_counter() - start) / len(motions)


def loader_throughput(out: Path, real: Path) -> dict:
    """The streaming loader with 0, 1 and 2 DataLoader worker processes (pretraining's stages: tar read,
    decode, shuffle, interpolation, shear, bucketing, collate), against an original-style per-sample
    feeder timed in the same run on the same clips."""
    from gltr.bench.prepare_bench import make_raw
    from gltr.pipeline.prepare import prepare
    work = out / "train_work"
    shutil.rmtree(work, ignore_errors=True)
    make_raw(work / "raw", 40, real)
    prepare("ntu120", work / "raw", work / "data", shard_size=64, log=lambda l: None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                                  # one worker = one core
    result = {}
    for workers in (0, 1, 2):
        cfg = LoaderConfig(batch_size=32, workers=workers, interpolation=True, shear=0.3)
        loader = ShardLoader(work / "data", "xsub", "train", cfg)
        best = float("inf")
        for epoch in range(3):
            start = time.perf_counter()
            n = sum(len(batch["key"]) for batch in loader.epoch(epoch))
            best = min(best, (time.perf_counter() - start) / n)
        result[f"workers{workers}_samples_per_s"] = round(1 / best, 1)
    batches = [b["motion"] for b in ShardLoader(work / "data", "xsub", "train", LoaderConfig(
        batch_size=32, workers=0, shuffle=False)).epoch(0)]
    start = time.perf_counter()
    for motion in batches:
        mpdp_labels(motion)
    labels_s = (time.perf_counter() - start) / sum(len(m) for m in batches)
    clips = [m[:int(L)].numpy() for b in ShardLoader(work / "data", "xsub", "train", LoaderConfig(
        batch_size=32, workers=0, shuffle=False)).epoch(0) for m, L in zip(b["motion"], b["length"])]
    original_s = min(original_style_feeder(clips[:200], 300, np.random.default_rng(e)) for e in range(2))
    torch.set_num_threads(threads)
    shutil.rmtree(work, ignore_errors=True)
    in_process = 1 / result["workers0_samples_per_s"]
    return {**result, "samples": n, "batch_size": 32,
            "labels_ms_per_sample_batched_1_thread": round(labels_s * 1000, 3),
            "original_style_feeder_ms_per_sample": round(original_s * 1000, 3),
            "speedup_vs_original_style_feeder": round(original_s / in_process, 1),
            "speedup_vs_original_style_feeder_with_labels_on_cpu": round(original_s / (in_process + labels_s), 1),
            "need_per_worker_samples_per_s": 500,
            "note": "workers N: N DataLoader processes on this 2-core machine (torch 1 thread each); the need is ~4,000 "
                    "samples/s for ntu() on one H200, i.e. 500 per worker with 8 workers. The MPDP labels are computed "
                    "batched on the training device (here timed on one CPU thread)"}


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
    result["targets"] = {"ntu speedup_bucketed_vs_padded": ">= 2.5", "loader speedup_vs_original_style_feeder": ">= 10",
                         "loader workers1_samples_per_s": ">= 500"}
    return result
