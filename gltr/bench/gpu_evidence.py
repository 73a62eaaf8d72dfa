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
import hashlib
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

from gltr.model.gltransformer import GLTransformer, forward_gflops, ntu, tiny

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
            "useful_tflops": useful / seconds / 1e12, "timed_steps": len(batches), "seconds": seconds}


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


# ----------------------------------------------------------------------------- 2. training: bf16 parity

# The recipes, all on prepared NW-UCLA (view benchmark), every run a process of its own, all at once (each is
# bounded by its own time budget; on 2026-12-04 ten of them ran side by side about as fast as two alone):
#   small(), the evidence recipe (lr 5e-4, batch 64, 140 epochs), seeds 0 and 1, in fp32, bf16 and
#     bf16-fp32-input: parity of each bf16 policy with fp32, on validation
#   nwucla(), the paper's protocol (batch 128, 300 epochs), fp32 and bf16-fp32-input, seed 0: parity, and the
#     test figures beside the random-init and hand-crafted baselines
# Then the fp32 small() runs get their test figures (linear, kNN, kNN-1), and seed 0's final checkpoint is
# copied to --out for the downstream protocols on a CPU.
SMALL = dict(preset="small", epochs=140, batch_size=64, lr=5e-4, save_every=20)
SMALL_PRECISIONS = ("fp32", "bf16", "bf16-fp32-input")
PAPER_POLICY = "bf16-fp32-input"
QUICK = dict(preset="tiny", epochs=2, batch_size=16, save_every=1)


def run_specs(quick: bool, data: Path, work: Path, lr: float, budget_s: float) -> list[dict]:
    small = {**SMALL, **(QUICK if quick else {})}
    paper = {**dict(preset="nwucla", epochs=300, batch_size=128, lr=lr, save_every=50), **(QUICK if quick else {})}
    probe = 5 if quick else None
    specs = [{**paper, "name": f"nwucla-{precision}-seed0", "precision": precision,
              "seed": 0, "evals": [("linear", True), ("linear", False), ("knn", False)]}
             for precision in ("fp32", PAPER_POLICY)]                      # the longest first
    specs += [{**small, "name": f"small-{precision}-seed{seed}", "precision": precision, "seed": seed,
               "evals": [("linear", True), ("knn", True)]}
              for seed in ((0,) if quick else (0, 1)) for precision in SMALL_PRECISIONS]
    for spec in specs:
        spec.update(data=str(data), out=str(work / spec["name"]), time_budget_s=budget_s, probe_epochs=probe)
    return specs


def run_job(spec: dict) -> dict:
    """One recipe in this process: pretrain, then its probes (name: "linear-val", "knn-test", ...)."""
    from gltr.train.pretrain import PretrainConfig, train
    cfg = PretrainConfig(data=spec["data"], benchmark="view", out=spec["out"], preset=spec["preset"],
                         epochs=spec["epochs"], batch_size=spec["batch_size"], lr=spec["lr"], seed=spec["seed"],
                         precision=spec["precision"], workers=1,
                         save_every=spec["save_every"], latest_every=10, time_budget_s=spec["time_budget_s"],
                         log_every=50)
    summary = train(cfg)
    meta = json.loads((Path(spec["out"]) / "checkpoints/latest.json").read_text())
    result = {"pretrain_wall_s": summary["wall_s"], "final_loss": summary["final_loss"], "steps": summary["steps"],
              "epochs_done": meta["loader"]["epoch"], "stopped_early": summary["stopped_early"],
              "precision": summary["precision"], "device": summary["device"], "memory": memory_curve(spec["out"])}
    for kind, validation in spec["evals"]:
        result[f"{kind}-{'val' if validation else 'test'}"] = probe(kind, spec["data"], validation, spec["probe_epochs"],
                                                                   checkpoint=summary["checkpoint"])
    return result


def probe(kind: str, data: str, validation: bool, epochs: int | None, k: int = 20, **source) -> float:
    from gltr.train.evaluate import KnnConfig, LinearConfig, knn_eval, linear_eval
    if kind == "linear":
        return linear_eval(LinearConfig(data=data, benchmark="view", epochs=epochs, workers=0, validation=validation,
                                        **source))["top1"]
    return knn_eval(KnnConfig(data=data, benchmark="view", k=k, workers=0, validation=validation, **source))["top1"]


def memory_curve(run: str) -> list:
    """(epoch, RSS MB, CUDA allocated MB, CUDA reserved MB) at every 10th epoch end and the last."""
    rows = [json.loads(line) for line in (Path(run) / "memory.jsonl").read_text().splitlines()]
    keep = [r for i, r in enumerate(rows) if r["epoch"] % 10 == 0 or i == len(rows) - 1]
    return [[r["epoch"], r["rss_mb"], r.get("cuda_allocated_mb"), r.get("cuda_reserved_mb")] for r in keep]


def run_parallel(specs: list[dict], work: Path, deadline_s: float, parallel: int) -> dict:
    """Each spec as `python -m gltr.bench.gpu_evidence --job SPEC`, `parallel` at a time, one thread each; a job
    still running at the deadline is killed (its process group) and recorded as such."""
    env = {**os.environ, "GLTR_THREADS": "1", "OMP_NUM_THREADS": "1"}
    work.mkdir(parents=True, exist_ok=True)
    pending, running, results = list(specs), {}, {}
    started = time.perf_counter()
    while pending or running:
        while pending and len(running) < parallel:
            spec = pending.pop(0)
            path = work / f"{spec['name']}.spec.json"
            path.write_text(json.dumps(spec))
            (work / f"{spec['name']}.result.json").unlink(missing_ok=True)     # never an earlier call's
            log = open(work / f"{spec['name']}.log", "w")
            running[spec["name"]] = (subprocess.Popen([sys.executable, "-m", "gltr.bench.gpu_evidence", "--job", str(path)],
                                                      stdout=log, stderr=subprocess.STDOUT, env=env,
                                                      start_new_session=True), log, time.perf_counter())
        for name, (proc, log, t0) in list(running.items()):
            late = time.perf_counter() - started > deadline_s
            if proc.poll() is None and not late:
                continue
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
            log.close()
            result_path = work / f"{name}.result.json"
            if proc.returncode == 0 and result_path.exists():
                results[name] = {**json.loads(result_path.read_text()), "job_s": round(time.perf_counter() - t0, 1)}
            else:
                tail = (work / f"{name}.log").read_text(errors="replace")[-1500:]
                results[name] = {"error": "killed at the deadline" if late else f"exit {proc.returncode}", "log_tail": tail}
            del running[name]
        time.sleep(0.5)
    return results


def common_epoch_probes(specs: list[dict], results: dict, data: Path, probe_epochs) -> dict:
    """Runs compared with each other (same preset and seed) that did not all finish: each one's probes again
    at the last epoch checkpoint they all reached, so that a comparison never sets epochs against epochs."""
    groups = {}
    for spec in specs:
        groups.setdefault((spec["preset"], spec["seed"]), []).append(spec)
    out = {}
    for (preset, seed), group in groups.items():
        done = [results[s["name"]].get("epochs_done", 0) for s in group]
        if all(d == s["epochs"] for d, s in zip(done, group)):
            continue
        epoch = min(done) // group[0]["save_every"] * group[0]["save_every"]
        key = f"{preset}-seed{seed}"
        out[key] = {"epoch": epoch}
        for spec in group:
            ckpt = Path(spec["out"]) / "checkpoints" / f"epoch-{epoch:04d}.pt"
            if epoch == 0 or not ckpt.exists():
                out[key][spec["name"]] = None
                continue
            out[key][spec["name"]] = {f"{kind}-{'val' if v else 'test'}": probe(kind, str(data), v, probe_epochs,
                                                                                  checkpoint=str(ckpt))
                                      for kind, v in spec["evals"]}
    return out


def attempt(section: dict, key: str, fn) -> None:
    """section[key] = fn(), or the error: what came before is kept whatever fails after it."""
    try:
        section[key] = fn()
    except Exception as e:
        traceback.print_exc()
        section[key] = {"error": f"{type(e).__name__}: {e}"}


def training(quick: bool, data: Path, work: Path, out: Path, lr: float, deadline_s: float) -> dict:
    from gltr.train.evaluate import random_init_spec
    specs = run_specs(quick, data, work, lr, budget_s=deadline_s - (20 if quick else 60))
    parallel = 2 if quick else len(specs)                                 # all at once: they share the GPU
    section = {"runs": run_parallel(specs, work, deadline_s, parallel), "deadline_s": deadline_s, "parallel": parallel,
               "recipes": {"small": SMALL, "paper_policy": PAPER_POLICY}, "paper_linear": 90.4}
    probe_epochs = 5 if quick else None
    attempt(section, "at_common_epoch", lambda: common_epoch_probes(specs, section["runs"], data, probe_epochs))
    seeds = (0,) if quick else (0, 1)

    def fp32_test():
        result = {}
        for s in seeds:
            run = work / f"small-fp32-seed{s}" / "checkpoints/latest.pt"
            result[f"seed{s}"] = {name: probe(kind, str(data), False, probe_epochs, k=k, checkpoint=str(run))
                                  for name, kind, k in (("linear-test", "linear", 20), ("knn-test", "knn", 20),
                                                        ("knn1-test", "knn", 1))}
        result["checkpoint_parts"] = bring_back(work / "small-fp32-seed0", out)
        return result

    def baselines():
        random = dict(out=str(work / "random"), random_init=random_init_spec(data, "view", "tiny" if quick else "nwucla", 0))
        return {name: {"linear-test": probe("linear", str(data), False, probe_epochs, **source),
                       "knn-test": probe("knn", str(data), False, probe_epochs, **source)}
                for name, source in (("random", random),
                                     ("handcrafted", dict(out=str(work / "handcrafted"), features="handcrafted")))}

    attempt(section, "small_fp32_test", fp32_test)
    attempt(section, "nwucla_baselines", baselines)
    return section


PART_BYTES = 15 * 2**20        # the device brings back files of at most 16 MiB


def bring_back(run: Path, out: Path) -> dict:
    """The run's last weights-only checkpoint, cut into parts under --out (`cat` them back together; the sha256
    of the whole is recorded), with its .json mirror. A run stopped early has trained past it: its epoch is
    in the mirror."""
    final = sorted((run / "checkpoints").glob("epoch-*.pt"))
    if not final:
        return {"error": f"no epoch checkpoint in {run}"}
    data = final[-1].read_bytes()
    parts = []
    for i in range(0, len(data), PART_BYTES):
        part = out / f"{final[-1].stem}.pt.part{i // PART_BYTES}"
        part.write_bytes(data[i:i + PART_BYTES])
        parts.append(part.name)
    shutil.copy(final[-1].with_suffix(".json"), out / f"{final[-1].stem}.json")
    return {"run": run.name, "file": final[-1].name, "parts": parts, "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


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
    parser.add_argument("--real", type=Path, default=Path("../shared/data"))
    parser.add_argument("--data", type=Path, default=Path("data/nwucla"), help="prepared NW-UCLA (for --make-inputs)")
    parser.add_argument("--training-deadline-s", type=float, default=320, help="wall limit of the training section")
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)          # one recipe of the training section
    args = parser.parse_args()
    if args.job:
        from gltr import resources
        resources.apply()
        spec = json.loads(args.job.read_text())
        result = run_job(spec)
        args.job.with_name(f"{spec['name']}.result.json").write_text(json.dumps(result, default=float))
        return
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
        path.write_text(json.dumps(result, indent=1, default=float) + "\n")     # after every section
        print(json.dumps(result[name], indent=1, default=float), flush=True)
    print(f"wrote {path}")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
