"""`make gpu-evidence`: the GPU measurements, in one call on a lent device (at most ~9 minutes).

    make gpu-evidence-inputs                      # here: prepared NW-UCLA, real NTU lengths, wheels -> .gpu/
    make gpu-evidence PY=python3 OUT=$OUT         # there (see docs/benchmarks.md, "GPU evidence"), or here with QUICK=1

1. throughput: `ntu()` forward+backward on batches of real NTU lengths, length bucketing (T padded up
   to a multiple of 16) in fp32, TF32, bf16 and bf16-fp32-input, against fp32 padded to 300: samples/s,
   achieved TFLOP/s and the fraction of the bf16 peak, peak memory at batch 128, the projected NTU-60
   xsub pretraining time.
2. training: bf16 parity on NW-UCLA (small() on validation, 2 seeds; nwucla(), the paper's protocol,
   beside the random-init and hand-crafted baselines), each run's memory per epoch (RSS, CUDA
   allocated / reserved); the fp32 small() runs' test figures and seed 0's checkpoint back in parts.
3. prepare: `gltr prepare` files/s on synthetic NTU files at 1, 4, 16 workers.
4. compile: `torch.compile` of `ntu()`, compile time apart from steady state, per padded length.

`--quick` runs every section at tiny sizes on any machine (a test does, so the script cannot
rot) and writes the same JSON fields. A section that fails is recorded with its error and the
others still run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from gltr.bench.gpu_training import PAPER_POLICY, training
from gltr.model.gltransformer import GLTransformer, forward_gflops, ntu, tiny
from gltr.bench import real_default
from gltr.safety import atomic_file

BF16_PEAK_TFLOPS = 790.0          # H200 dense bf16 matrix rate measured on this workplace's machines
NTU60_XSUB_TRAIN = 40_091
NTU_EPOCHS = 120


# ----------------------------------------------------------------------------- 1. throughput

def forward_flops_of(cfg):
    """T -> forward FLOPs of one sequence, encoder plus MPDP heads: a*T + b*T^2 (linear layers and
    spatial attention grow with T, temporal attention with T^2), fitted exactly from the encoder's
    counts at T = 1, 2; the heads add 2 * C * N * (27 + 16) per frame and interval."""
    f1, f2 = (forward_gflops(cfg, t) * 1e9 for t in (1, 2))
    b = (f2 - 2 * f1) / 2
    a = f1 - b + 2 * cfg.width * cfg.tokens * (27 + 16) * len(cfg.intervals)
    return lambda T: a * T + b * T * T


def flops_per_step(flops, lengths: list, T: int) -> tuple[float, float]:
    """(executed, useful) FLOPs of one forward+backward (= 3 x forward) of a batch padded to T."""
    return 3 * len(lengths) * flops(T), 3 * sum(flops(t) for t in lengths)


def time_steps(model, cfg, batches: list, pad, precision: str, device, flops) -> dict:
    """Forward+backward over `batches` (lists of lengths); the first is warm-up. pad(lengths) -> T.
    precision: fp32, tf32 (fp32 with TF32 matmuls) or a bf16 policy of gltr.train.precision."""
    from gltr.train.precision import autocast_forward
    samples, seconds, executed, useful = 0, 0.0, 0.0, 0.0
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    for i, lens in enumerate([batches[0]] + batches):
        T = pad(lens)
        motion = torch.randn(len(lens), T, cfg.persons, cfg.joints, 3, device=device) * 0.1
        mask = torch.arange(T, device=device)[None] < torch.tensor(lens, device=device)[:, None]
        sync(device)
        start = time.perf_counter()
        if precision in ("fp32", "tf32"):
            d, m = model(motion, mask)
        else:
            d, m = autocast_forward(model, motion, mask, precision, device)
        (d.float().mean() + m.float().mean()).backward()
        model.zero_grad(set_to_none=True)
        sync(device)
        if i:
            seconds += time.perf_counter() - start
            samples += len(lens)
            e, u = flops_per_step(flops, lens, T)
            executed, useful = executed + e, useful + u
    torch.backends.cuda.matmul.allow_tf32 = tf32
    return {"samples_per_s": samples / seconds, "executed_tflops": executed / seconds / 1e12,
            "useful_tflops": useful / seconds / 1e12, "timed_steps": len(batches), "samples": samples,
            "seconds": seconds}


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bucketed_batches(lengths: list, batch_size: int, steps: int, rng) -> list:
    """`steps` batches of the real length distribution, each cut from a sorted window (as the loader does)."""
    draws = rng.choice(lengths, size=(steps, batch_size * 8)).tolist()
    return [sorted(d)[k * batch_size:(k + 1) * batch_size] for d, k in zip(draws, rng.integers(0, 8, steps).tolist())]


def throughput(quick: bool, device, ntu_lengths: list) -> dict:
    cfg = tiny() if quick else ntu()
    batch, steps = (4, 2) if quick else (128, 6)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = GLTransformer(cfg).to(device).train()
    flops = forward_flops_of(cfg)
    batches = bucketed_batches(ntu_lengths, batch, steps, rng)
    multiple = 16

    def pad16(lens):
        return int(min(-(-max(lens) // multiple) * multiple, cfg.t_max))

    def pad_max(lens):
        return cfg.t_max

    def measure(precision, pad, some):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        r = time_steps(model, cfg, some, pad, precision, device, flops)
        r["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
        return r

    slow = measure("fp32", pad_max, batches[:max(2, steps // 2)])
    bucketed = {precision: measure(precision, pad16, batches) for precision in ("fp32", "tf32", "bf16", PAPER_POLICY)}
    default = bucketed[PAPER_POLICY]                                    # what --precision auto picks on a GPU
    return {
        "preset": "tiny" if quick else "ntu", "batch_size": batch, "mean_real_length": float(np.mean(ntu_lengths)),
        "real_lengths": len(ntu_lengths), "t_max": cfg.t_max, "default_precision": PAPER_POLICY,
        "fp32_padded_to_t_max": slow, "bucketed_pad16": bucketed,
        "speedup_default_bucketed_vs_fp32_padded": default["samples_per_s"] / slow["samples_per_s"],
        "speedup_vs_fp32_bucketed": {p: r["samples_per_s"] / bucketed["fp32"]["samples_per_s"]
                                     for p, r in bucketed.items()},
        "fraction_of_bf16_peak_executed": default["executed_tflops"] / BF16_PEAK_TFLOPS,
        "fraction_of_bf16_peak_useful": default["useful_tflops"] / BF16_PEAK_TFLOPS,
        "bf16_peak_tflops": BF16_PEAK_TFLOPS,
        "projected_ntu60_xsub_pretraining_hours": NTU60_XSUB_TRAIN * NTU_EPOCHS / default["samples_per_s"] / 3600,
        "projection": f"{NTU60_XSUB_TRAIN} samples x {NTU_EPOCHS} epochs at the default precision's bucketed rate, "
                      f"one device",
    }


def compile_time(quick: bool, device, ntu_lengths: list, budget_s: float = 60) -> dict:
    """torch.compile with T padded to a multiple of 16: the first call per length compiles; timed apart
    from the steady state and from eager. Quick mode traces with the eager backend (graph capture and
    guards, no code generation). Stops adding lengths once `budget_s` is spent."""
    cfg = tiny() if quick else ntu()
    batch = 4 if quick else 128
    torch.manual_seed(0)
    model = GLTransformer(cfg).to(device).train()
    flops = forward_flops_of(cfg)
    compiled = torch.compile(model, backend="eager" if quick else "inductor")
    lengths = sorted({int(min(-(-T // 16) * 16, cfg.t_max)) for T in np.percentile(ntu_lengths, [25, 75]).astype(int)})
    started, done = time.perf_counter(), []
    for T in lengths:
        if time.perf_counter() - started > budget_s:
            break
        start = time.perf_counter()
        time_steps(compiled, cfg, [[T] * batch], lambda _: T, "fp32", device, flops)        # compiles, then one timed call
        first = time.perf_counter() - start
        steady = time_steps(compiled, cfg, [[T] * batch] * 3, lambda _: T, "fp32", device, flops)
        eager = time_steps(model, cfg, [[T] * batch] * 3, lambda _: T, "fp32", device, flops)
        done.append({"T": T, "first_call_s": first, "steady_samples_per_s": steady["samples_per_s"],
                     "eager_samples_per_s": eager["samples_per_s"],
                     "speedup_compiled_vs_eager": steady["samples_per_s"] / eager["samples_per_s"]})
    return {"preset": "tiny" if quick else "ntu", "batch_size": batch, "backend": "eager" if quick else "inductor",
            "precision": "fp32",
            "lengths": done, "note": "first_call_s = compile + warm-up + one timed step at that padded length"}


# ----------------------------------------------------------------------------- 3. prepare scaling

def prepare_scaling(quick: bool, work: Path) -> dict:
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.synth import synth_ntu
    files, workers = (40, [1, 2]) if quick else (1500, [1, 4, 16])
    raw = work / "raw_ntu"
    shutil.rmtree(raw, ignore_errors=True)
    synth_ntu(raw, files, seed=0, classes=60)
    rates = {}
    for w in workers:
        start = time.perf_counter()
        report = prepare("ntu120", raw, work / f"prepared_{w}", workers=w, overwrite=True, log=lambda line: None)
        rates[w] = report["counts"]["prepared"] / (time.perf_counter() - start)
        shutil.rmtree(work / f"prepared_{w}")
    return {"files": files, "cpu_cores": os.cpu_count(), "files_per_s": rates,
            "scaling_efficiency": {w: rates[w] / (w * rates[1]) for w in workers}}


# ----------------------------------------------------------------------------- main

def ntu_lengths(inputs: Path) -> list:
    """Valid lengths of real NTU clips: from the inputs folder, else from ../shared/data, else none."""
    path = inputs / "ntu_lengths.json"
    if path.exists():
        return json.loads(path.read_text())["lengths"]
    raise FileNotFoundError(f"{path} missing: run `make gpu-evidence-inputs` first")


def make_inputs(real: Path, inputs: Path, data: Path) -> None:
    """Here, before the device call: the real NTU lengths and the prepared NW-UCLA shards (no Zarr store)."""
    from gltr.bench.train_bench import clip_lengths
    if not (real / "ntu_skeleton").is_dir():
        raise FileNotFoundError(f"{real / 'ntu_skeleton'} not found: the real NTU lengths come from there")
    inputs.mkdir(parents=True, exist_ok=True)
    lengths = clip_lengths(real)["ntu"]
    hard = sorted((real / "ntu_skeleton_hard").glob("*.skeleton"))
    (inputs / "ntu_lengths.json").write_text(json.dumps({"source": str(real / "ntu_skeleton"), "lengths": lengths,
                                                         "hard_cases_not_included": len(hard)}) + "\n")
    target = inputs / "nwucla"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(data, target, ignore=shutil.ignore_patterns("store.zarr"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench"))
    parser.add_argument("--inputs", type=Path, default=Path(".gpu"))
    parser.add_argument("--work", type=Path, default=None, help="scratch folder [default: a temporary one]")
    parser.add_argument("--lr", type=float, default=5e-4, help="NW-UCLA pretraining lr")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, any machine (< 3 minutes on CPU)")
    parser.add_argument("--make-inputs", action="store_true", help="write --inputs from --real and --data, then stop")
    parser.add_argument("--real", type=Path, default=real_default())
    parser.add_argument("--data", type=Path, default=Path("data/nwucla"), help="prepared NW-UCLA (for --make-inputs)")
    parser.add_argument("--training-deadline-s", type=float, default=320, help="wall limit of the training section")
    args = parser.parse_args()
    if args.make_inputs:
        make_inputs(args.real, args.inputs, args.data)
        print(f"wrote {args.inputs}")
        return
    import tempfile
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-evidence-"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    result = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "quick": args.quick, "device": str(device),
              "device_name": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "python": sys.version.split()[0], "git_commit": git_commit()}
    sections = {"throughput": lambda: throughput(args.quick, device, ntu_lengths(args.inputs)),
                "training": lambda: training(args.quick, args.inputs / "nwucla", work, args.out, args.lr,
                                             args.training_deadline_s),
                "prepare": lambda: prepare_scaling(args.quick, work),
                "compile": lambda: compile_time(args.quick, device, ntu_lengths(args.inputs))}
    path = args.out / "gpu-evidence.json"
    for name, section in sections.items():
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            result[name] = section()
        except Exception as e:               # record it and go on: one call must bring back all it can
            traceback.print_exc()
            result[name] = {"error": f"{type(e).__name__}: {e}"}
        result[name]["section_s"] = round(time.perf_counter() - start, 1)
        with atomic_file(path) as tmp:                                           # after every section
            tmp.write_text(json.dumps(result, indent=1, default=float) + "\n")
        print(json.dumps(result[name], indent=1, default=float), flush=True)
    print(f"wrote {path}")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
