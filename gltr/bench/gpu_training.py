"""Section 2 of `make gpu-evidence` (gltr/bench/gpu_evidence.py): pretraining runs side by side on one GPU, each
a process of its own (`python -m gltr.bench.gpu_training SPEC`), then their probes.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

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
    from gltr.train import checkpoint
    from gltr.train.pretrain import PretrainConfig, train
    cfg = PretrainConfig(data=spec["data"], benchmark="view", out=spec["out"], preset=spec["preset"],
                         epochs=spec["epochs"], batch_size=spec["batch_size"], lr=spec["lr"], seed=spec["seed"],
                         precision=spec["precision"], workers=1,
                         save_every=spec["save_every"], latest_every=10, time_budget_s=spec["time_budget_s"],
                         log_every=50)
    summary = train(cfg)
    meta = checkpoint.load_meta(Path(spec["out"]) / "checkpoints/latest.pt")
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
    """Each spec as `python -m gltr.bench.gpu_training SPEC`, `parallel` at a time, one thread each; a job
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
            running[spec["name"]] = (subprocess.Popen([sys.executable, "-m", "gltr.bench.gpu_training", str(path)],
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
    from gltr.train.downstream import random_init_spec
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


def main() -> None:
    """One recipe: `python -m gltr.bench.gpu_training SPEC.json` writes <name>.result.json beside the spec."""
    from gltr import resources
    if len(sys.argv) != 2 or not sys.argv[1].endswith(".spec.json"):
        sys.exit("usage: python -m gltr.bench.gpu_training NAME.spec.json (written by gpu_evidence's training section)")
    path = Path(sys.argv[1])
    spec = json.loads(path.read_text())
    if not isinstance(spec, dict) or not {"name", "probe_epochs", "evals"} <= set(spec):
        sys.exit(f"{path}: not a training spec (an object with name, evals, probe_epochs, ...)")
    resources.apply()
    path.with_name(f"{spec['name']}.result.json").write_text(json.dumps(run_job(spec), default=float))


if __name__ == "__main__":
    main()
