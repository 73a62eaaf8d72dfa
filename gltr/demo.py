"""`gltr demo` / `make demo`: the whole pipeline on an embedded synthetic default, end to end.

synthesise raw NW-UCLA JSON files -> prepare -> pretrain tiny() -> linear probe on the test view,
next to the same probe on a randomly initialised encoder and on hand-crafted features -> a results
table. The synthetic classes differ only in how the limbs move (`gltr.pipeline.synth.class_motion`),
never in a pose, which is what MPDP pretraining is for. NW-UCLA's format (one person, 20 joints,
at most 50 frames) rather than NTU's (two persons, 25 joints, 300) because MPDP needs tens of
thousands of clip-passes before its features separate motions, and tiny() runs ~5x more of them
per second on the smaller clips. Exit status 0 only if every stage succeeded.
"""
import shutil
from pathlib import Path

from gltr.configs import DemoConfig
from gltr.pipeline.prepare import exit_status, prepare
from gltr.pipeline.synth import synth_nwucla
from gltr.configs import LinearConfig, PretrainConfig
from gltr.safety import atomic_file
from gltr.train.downstream import random_init_spec
from gltr.train.evaluate import linear_eval
from gltr.train.pretrain import train
from gltr.analysis.report import collect, figures, markdown

BENCHMARK = "view"          # train on views 1-2, test on view 3
MARKER = ".gltr-demo"       # in every folder the demo made: only such a folder is replaced on the next run


def fresh_folder(out: Path) -> None:
    """Empty `out` for a new demo run, refusing a non-empty folder the demo did not make."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise FileExistsError(f"{out} is not empty and was not made by `gltr demo`; its files are left alone: "
                              f"choose another --out (or remove it yourself, e.g. an older demo's folder)")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by gltr demo; replaced on the next run\n")


def demo(cfg: DemoConfig, log=print) -> dict:
    out, samples, classes, workers, probe_epochs = Path(cfg.out), cfg.samples, cfg.classes, cfg.workers, cfg.probe_epochs
    fresh_folder(out)
    log(f"[1/5] synthesising {samples} NW-UCLA JSON files ({classes} classes) in {out / 'raw'}")
    synth_nwucla(out / "raw", samples, seed=0, classes=classes, lengths=cfg.lengths)
    log("[2/5] prepare")
    report = prepare("nwucla", out / "raw", out / "data", workers=workers, shard_size=32, log=log)
    if exit_status(report):
        raise RuntimeError(f"prepare failed on {report['counts']['failed']} file(s)")
    log(f"[3/5] pretrain tiny() for {cfg.epochs} epochs")
    run = PretrainConfig(data=str(out / "data"), benchmark=BENCHMARK, out=str(out / "run"), preset="tiny",
                         epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, workers=0)
    train(run)
    log(f"[4/5] linear probe ({probe_epochs} epochs) of the pretrained encoder")
    pretrained = linear_eval(LinearConfig(data=run.data, benchmark=BENCHMARK, checkpoint=str(out / "run/checkpoints/latest.pt"),
                                          epochs=probe_epochs, batch_size=64, workers=0))
    log("[5/5] the same probe on a randomly initialised encoder and on hand-crafted features")
    random = linear_eval(LinearConfig(data=run.data, benchmark=BENCHMARK, epochs=probe_epochs, batch_size=64, workers=0,
                                      out=str(out / "random"),
                                      random_init=random_init_spec(run.data, BENCHMARK, run.preset, seed=0)))
    handcrafted = linear_eval(LinearConfig(data=run.data, benchmark=BENCHMARK, epochs=probe_epochs, batch_size=64,
                                           workers=0, out=str(out / "handcrafted"), features="handcrafted"))
    runs = [out / "run", out / "random", out / "handcrafted"]
    rows = collect(runs)
    table = markdown(rows, paper=False)                       # synthetic data: no paper figure beside it
    with atomic_file(out / "results.md") as tmp:
        tmp.write_text(table)
    return {"pretrained_top1": pretrained["top1"], "random_top1": random["top1"],
            "handcrafted_top1": handcrafted["top1"], "table": table, "figures": figures(rows, runs, out, paper=False)}
