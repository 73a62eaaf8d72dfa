"""torch.compile against eager on this CPU (`python -m gltr.bench --only compile`).

The evidence preset (`small()` in NW-UCLA's layout) and the paper's (`nwucla()`), one pretraining step
each (forward under the default precision, fp32 MPDP loss, backward, AdamW), batch 64, at the padded
lengths `gltr pretrain --compile` produces for NW-UCLA (multiples of 8, at most T_max = 50). The first
compiled call per length is timed apart (compile + one step); then steady-state steps of both, taking
turns. Pays back = the compile seconds over the per-step saving, as minutes of a run at that step rate.
"""
import statistics
import time
from pathlib import Path

import torch

from gltr.train import precision as mixed
from gltr.model.gltransformer import PRESETS, GLTransformer, for_dataset
from gltr.pipeline.mpdp import mpdp_labels
from gltr.train.loss import mpdp_loss


def one_step(forward, model, optimizer, motion, mask, labels, tokens, precision: str) -> float:
    start = time.perf_counter()
    with mixed.autocast(precision, torch.device("cpu")):
        d, m = forward(motion, mask)
    loss, _ = mpdp_loss(d, m, labels[0].flatten(-2), labels[1].flatten(-2), mask, [2])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def compare(preset: str, lengths: tuple, batch: int, steps: int, precision: str) -> dict:
    torch.manual_seed(0)
    cfg = for_dataset(PRESETS[preset](), 1, 20, 2, 50)
    model = GLTransformer(cfg).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    compiled = torch.compile(model)
    rows, compile_s = [], 0.0
    for T in lengths:
        motion = torch.randn(batch, T, 1, 20, 3) * 0.05
        mask = torch.ones(batch, T, dtype=torch.bool)
        mask[: batch // 2, T - 3:] = False                      # some clips shorter than the padded length
        labels = mpdp_labels(motion, cfg.intervals)
        args = (model, optimizer, motion, mask, labels, [2], precision)
        first = one_step(compiled, *args)
        one_step(model, *args)                                  # eager warm-up at this shape
        times = {"eager": [], "compiled": []}
        for _ in range(steps):
            times["eager"].append(one_step(model, *args))
            times["compiled"].append(one_step(compiled, *args))
        eager, fast = statistics.median(times["eager"]), statistics.median(times["compiled"])
        compile_s += max(first - fast, 0.0)
        rows.append({"frames": T, "first_compiled_call_s": round(first, 2), "eager_step_s": round(eager, 4),
                     "compiled_step_s": round(fast, 4), "speedup": round(eager / fast, 2)})
    eager = statistics.mean(r["eager_step_s"] for r in rows)
    fast = statistics.mean(r["compiled_step_s"] for r in rows)
    saving = eager - fast
    payback_steps = compile_s / saving if saving > 0 else None
    return {"precision": precision, "batch_size": batch, "timed_steps_per_length": steps, "lengths": rows,
            "compile_s_total": round(compile_s, 1), "mean_speedup": round(eager / fast, 3),
            "pays_back_after_steps": round(payback_steps) if payback_steps else None,
            "pays_back_after_minutes": round(payback_steps * fast / 60, 1) if payback_steps else None}


def run(out: Path, real: Path, quick: bool = False) -> dict:
    precision = mixed.auto_precision("auto", "cpu")[0]
    result = {"device": "cpu", "threads": torch.get_num_threads(), "torch": torch.__version__}
    lengths = (16,) if quick else (24, 32, 40, 48)
    for preset in (("small",) if quick else ("small", "nwucla")):
        result[preset] = compare(preset, lengths, 4 if quick else 64, 1 if quick else 3, precision)
    result["note"] = ("NW-UCLA layout; the lengths --compile pads to (multiples of 8); compile_s_total = the first "
                      "call per length minus a steady step; pays back = compile seconds / per-step saving")
    return result
