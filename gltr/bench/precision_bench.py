"""fp32 against bf16 autocast on this CPU, every preset, in one run (`python -m gltr.bench --only precision`).

One pretraining step each: forward, the MPDP loss (fp32, as in training), backward, AdamW; batch 64 of
T = 32 frames in NTU's layout (2 x 25 joints; NW-UCLA's 1 x 20 for nwucla()). The two precisions take
turns step by step, so a neighbour that comes or goes slows both alike; the median step counts.
"""
import statistics
import time
from pathlib import Path

import torch

from gltr.train import precision as mixed
from gltr.model.gltransformer import PRESETS, for_dataset
from gltr.pipeline.mpdp import mpdp_labels
from gltr.train.loss import mpdp_loss

LAYOUTS = {"nwucla": (1, 20, 2, 50)}            # persons, joints, centre, T_max; the rest NTU's
NTU = (2, 25, 20, 300)


def step_seconds(preset: str, batch: int, frames: int, steps: int) -> dict:
    """Median seconds of one training step, fp32 and bf16, alternating."""
    torch.manual_seed(0)
    persons, joints, centre, t_max = LAYOUTS.get(preset, NTU)
    cfg = for_dataset(PRESETS[preset](), persons, joints, centre, t_max)
    from gltr.model.gltransformer import GLTransformer
    model = GLTransformer(cfg).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    motion = torch.randn(batch, frames, persons, joints, 3) * 0.05
    mask = torch.ones(batch, frames, dtype=torch.bool)
    direction, magnitude = mpdp_labels(motion, cfg.intervals)
    tokens = [p * joints + centre for p in range(persons)]
    times = {"fp32": [], "bf16": []}
    for i in range(2 * steps + 2):
        precision = ("fp32", "bf16")[i % 2]
        start = time.perf_counter()
        with mixed.autocast(precision, torch.device("cpu")):
            d, m = model(motion, mask)
        loss, _ = mpdp_loss(d, m, direction.flatten(-2), magnitude.flatten(-2), mask, tokens)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= 2:                                          # the first step of each is a warm-up
            times[precision].append(time.perf_counter() - start)
    fp32, bf16 = statistics.median(times["fp32"]), statistics.median(times["bf16"])
    return {"batch_size": batch, "frames": frames, "timed_steps": steps, "fp32_s": round(fp32, 4),
            "bf16_s": round(bf16, 4), "speedup_bf16": round(fp32 / bf16, 2)}


def run(out: Path, real: Path, quick: bool = False) -> dict:
    flag = mixed.cpu_bf16_flag()
    result = {"device": "cpu", "threads": torch.get_num_threads(), "cpu_bf16_flag": flag,
              "auto_precision_cpu": mixed.auto_precision("auto", "cpu")[0]}
    for preset, batch, steps in (("tiny", 64, 6), ("small", 64, 4), ("nwucla", 64, 3), ("ntu", 8, 2)):
        if quick:
            batch, steps = 4, 1
        result[preset] = step_seconds(preset, batch, 8 if quick else 32, steps)
    result["note"] = ("one pretraining step (forward, fp32 MPDP loss, backward, AdamW); the precisions alternate "
                      "step by step in one run, median step time; nwucla() in NW-UCLA's layout, the rest in NTU's")
    return result
