"""Memory over long runs (`python -m gltr.bench --only soak`): the resident memory of pretraining, fine-tuning
and the linear probe after every epoch, with and without giving freed heap memory back at each epoch's end
(`gltr.resources.release_memory`; pretraining and fine-tuning call it, the probe does not).

Each run is a child process on real NW-UCLA (`small()`, one thread) that records its own RSS after every
epoch (pretraining: memory.jsonl; fine-tuning and the probe: `rss_mb_per_epoch` in their result). The criterion: from
epoch 3 on, RSS stays within 5 % of epoch 3's. "Without" runs the very same code with `release_memory`
replaced by a no-op in the child.
"""
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gltr.bench import missing

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


def child(kind: str, spec: dict, trim: bool, limit_s: float) -> None:
    """Run one command in a child process (the release switched off there when `trim` is False)."""
    proc = subprocess.run([sys.executable, "-c", CHILD.format(trim=trim), kind, json.dumps(spec)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=limit_s)
    if proc.returncode != 0:
        raise RuntimeError(f"soak {kind} failed: {proc.stderr[-2000:]}")


def verdict(curve: list[float], from_epoch: int = 3, tolerance: float = 0.05) -> dict:
    base = curve[from_epoch - 1]
    worst = max(abs(r - base) / base for r in curve[from_epoch - 1:])
    return {"epoch3_mb": base, "last_mb": curve[-1], "worst_drift_from_epoch3": round(worst, 4), "flat": worst <= tolerance}


def run(out: Path, real: Path, quick: bool = False, epochs: int = 10) -> dict:
    if skipped := missing(real / "nw_ucla"):
        return skipped
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
            child("pretrain", pre, trim, limit_s=3600)
            curves = {"pretrain": [json.loads(line)["rss_mb"] for line in (run_dir / "memory.jsonl").read_text().splitlines()]}
            ckpt = str(run_dir / "checkpoints/latest.pt")
            child("finetune", dict(data=str(data), benchmark="view", checkpoint=ckpt, epochs=epochs, workers=0,
                                   out=str(run_dir / "ft")), trim, limit_s=3600)
            curves["finetune"] = json.loads((run_dir / "ft/eval/finetune-view-seed0.json").read_text())["rss_mb_per_epoch"]
            child("linear", dict(data=str(data), benchmark="view", checkpoint=ckpt, epochs=10 * epochs, workers=0,
                                 out=str(run_dir / "lin")), trim, limit_s=3600)
            curves["linear"] = json.loads((run_dir / "lin/eval/linear-view.json").read_text())["rss_mb_per_epoch"]
            result[name] = {kind: {"rss_mb_per_epoch": [round(r, 1) for r in c], **verdict(c)} for kind, c in curves.items()}
            result[name]["wall_s"] = round(time.perf_counter() - started, 1)
    return result
