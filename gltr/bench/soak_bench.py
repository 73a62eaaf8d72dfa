"""Memory over long runs (`python -m gltr.bench --only soak`): the resident memory of pretraining, fine-tuning
and the linear probe, epoch after epoch, with and without giving freed heap memory back at each epoch's
end (`gltr.resources.release_memory`).

Each run is a child process on real NW-UCLA (`small()`, one thread); its RSS is read from /proc every
0.25 s and kept at each epoch's end (pretraining: `memory.jsonl`; the others: the samples at equal
fractions of the run). The criterion: from epoch 3 on, RSS stays within 5 % of epoch 3's. "Without"
runs the very same code with `release_memory` replaced by a no-op in the child.
"""
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gltr import resources

CHILD = """
import json, sys
from gltr import resources
if not {trim}:
    resources.release_memory = lambda: False
resources.apply(1)
kind, spec = sys.argv[1], json.loads(sys.argv[2])
if kind == "pretrain":
    from gltr.train.pretrain import PretrainConfig, train
    train(PretrainConfig(**spec))
elif kind == "finetune":
    from gltr.train.finetune import FinetuneConfig, finetune_eval
    finetune_eval(FinetuneConfig(**spec))
else:
    from gltr.train.evaluate import LinearConfig, linear_eval
    linear_eval(LinearConfig(**spec))
"""


def watch(kind: str, spec: dict, trim: bool, limit_s: float) -> list[tuple[float, float]]:
    """(seconds, RSS MB) of the child, every 0.25 s, until it ends."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(trim=trim), kind, json.dumps(spec)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    start, samples = time.perf_counter(), []
    while proc.poll() is None:
        if time.perf_counter() - start > limit_s:
            proc.kill()
            raise TimeoutError(f"soak {kind} ran past {limit_s} s")
        rss = resources.rss_mb(proc.pid)
        if rss is not None:
            samples.append((round(time.perf_counter() - start, 2), round(rss, 1)))
        time.sleep(0.25)
    if proc.returncode != 0:
        raise RuntimeError(f"soak {kind} failed: {proc.stderr.read()[-2000:]}")
    return samples


def per_epoch(samples: list, slices: int) -> list[float]:
    """RSS at the end of each of `slices` equal slices of the run (the last sample in each)."""
    end, out = samples[-1][0], []
    for e in range(slices):
        upto = [r for t, r in samples if t <= end * (e + 1) / slices]
        out.append(upto[-1] if upto else samples[0][1])
    return out


def verdict(curve: list[float], from_epoch: int = 3, tolerance: float = 0.05) -> dict:
    base = curve[from_epoch - 1]
    worst = max(abs(r - base) / base for r in curve[from_epoch - 1:])
    return {"epoch3_mb": base, "last_mb": curve[-1], "worst_drift_from_epoch3": round(worst, 4), "flat": worst <= tolerance}


def run(out: Path, real: Path, quick: bool = False, epochs: int = 12) -> dict:
    data = out / "nwucla-prepared"
    if not (data / "prepare.json").exists():
        from gltr.pipeline.prepare import prepare
        prepare("nwucla", real / "nw_ucla", data, log=lambda line: None)
    epochs = 4 if quick else epochs
    preset = "tiny" if quick else "small"
    result = {"preset": preset, "epochs": epochs, "threads": 1, "criterion": "RSS within 5 % of epoch 3's from then on"}
    with tempfile.TemporaryDirectory(prefix="gltr-soak-") as tmp:
        for trim in (False, True):
            name = "with_release" if trim else "without_release"
            run_dir = Path(tmp) / name
            pre = dict(data=str(data), benchmark="view", out=str(run_dir), preset=preset, epochs=epochs, batch_size=64,
                       lr=5e-4, workers=0, save_every=epochs, latest_every=epochs)
            started = time.perf_counter()
            watch("pretrain", pre, trim, limit_s=3600)
            rows = [json.loads(line) for line in (run_dir / "memory.jsonl").read_text().splitlines()]
            curve = [r["rss_mb"] for r in rows]
            ckpt = str(run_dir / "checkpoints/latest.pt")
            ft = watch("finetune", dict(data=str(data), benchmark="view", checkpoint=ckpt, epochs=epochs, workers=0,
                                        out=str(run_dir / "ft")), trim, limit_s=3600)
            lin = watch("linear", dict(data=str(data), benchmark="view", checkpoint=ckpt, epochs=50 * epochs, workers=0,
                                       out=str(run_dir / "lin")), trim, limit_s=3600)
            result[name] = {"pretrain": {"rss_mb_per_epoch": curve, **verdict(curve)},
                            "finetune": {"rss_mb_per_epoch": per_epoch(ft, epochs), **verdict(per_epoch(ft, epochs))},
                            "linear": {"rss_mb_per_tenth": per_epoch(lin, 10), **verdict(per_epoch(lin, 10))},
                            "wall_s": round(time.perf_counter() - started, 1)}
    return result
