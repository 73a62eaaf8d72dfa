"""Linear-evaluation wall time: cached features vs `--protocol reference`, same data and epochs, one run.

Data: 300 synthetic NW-UCLA clips (200 train / 100 test), tiny() preset; epochs 100.
"""
import shutil
import time
from pathlib import Path

from gltr.pipeline.prepare import prepare
from gltr.pipeline.synth import synth_nwucla
from gltr.train.evaluate import LinearConfig, linear_eval
from gltr.train.pretrain import PretrainConfig, train

EPOCHS = 100


def run(out: Path, real: Path) -> dict:
    work = out / "eval_work"
    shutil.rmtree(work, ignore_errors=True)
    synth_nwucla(work / "raw", 300, seed=0)
    prepare("nwucla", work / "raw", work / "data", shard_size=64, log=lambda l: None)
    train(PretrainConfig(data=str(work / "data"), benchmark="view", out=str(work / "run"), preset="tiny", epochs=1,
                         batch_size=32, lr=1e-3, workers=0))
    ckpt = str(work / "run/checkpoints/latest.pt")
    common = dict(data=str(work / "data"), benchmark="view", checkpoint=ckpt, epochs=EPOCHS, batch_size=1024, workers=0)
    start = time.perf_counter()
    cached = linear_eval(LinearConfig(protocol="cached", **common))     # includes encoding (no cache yet)
    cached_s = time.perf_counter() - start
    start = time.perf_counter()
    reference = linear_eval(LinearConfig(protocol="reference", **common))
    reference_s = time.perf_counter() - start
    shutil.rmtree(work, ignore_errors=True)
    return {"data": "synthetic NW-UCLA, 200 train / 100 test", "preset": "tiny", "epochs": EPOCHS,
            "cached_s": round(cached_s, 2), "reference_s": round(reference_s, 2),
            "speedup_cached_vs_reference": round(reference_s / cached_s, 1),
            "cached_top1": cached["top1"], "reference_top1": reference["top1"], "target": ">= 50"}
