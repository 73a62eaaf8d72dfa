"""`gltr evidence` (the last step of `make evidence`): every evaluation of one pretraining run,
beside its baselines, in one summary.

    gltr pretrain --data data/nwucla --benchmark view --preset small --lr 1e-3 --batch-size 64 --epochs 20 --out runs/x
    gltr evidence --data data/nwucla --run runs/x --out runs/evidence

1. linear probe and kNN on the test split (and on the validation split) for the pretrained
   encoder, the same preset with random weights (seed 0), and the hand-crafted features;
2. the probe curve: linear probe of every `epoch-NNNN` checkpoint, on validation and test;
3. semi-supervised fine-tuning on 5 % and 10 % of the labels, seeds 0-4, pretrained vs random;
4. <out>/evidence.json (the summary), <out>/report.md, <out>/probe_curve.png, <out>/accuracy.png,
   <out>/loss-<run>.png.
"""
import json
import time
from pathlib import Path

from gltr import records
from gltr.analysis import plots
from gltr.analysis.report import PAPER, collect, figures as report_figures, markdown
from gltr.configs import EvidenceConfig, FinetuneConfig, KnnConfig, LinearConfig, semi_config
from gltr.datasets import DATASETS
from gltr.safety import atomic_file
from gltr.train import checkpoint
from gltr.train.downstream import config_record, random_weights_id, result_path
from gltr.train.evaluate import knn_eval, linear_eval
from gltr.train.finetune import check_lists, finetune_eval, summarize
from gltr.train.prepared import PreparedData

ENCODERS = ("pretrained", "random", "handcrafted")


# the recipe's fields a summary reports, with the value runs from before the field existed had
RECIPE = {"preset": None, "epochs": None, "batch_size": None, "lr": None, "weight_decay": None, "lr_decay": None,
          "schedule": "exp", "warmup_epochs": 0, "seed": None, "augment": None, "pos_init": None}


def sources(run: Path, out: Path, model_config: dict) -> dict:
    """How each encoder is named to an evaluation: checkpoint, random init of the same preset, hand-crafted."""
    return {"pretrained": dict(checkpoint=str(run / "checkpoints" / "latest.pt"), out=str(out / "pretrained")),
            "random": dict(out=str(out / "random"), random_init={"model_config": model_config, "seed": 0}),
            "handcrafted": dict(out=str(out / "handcrafted"), features="handcrafted")}


def probe_curve(run: Path, data: str, benchmark: str, out: Path, workers: int, epochs: int | None, log) -> list:
    """Linear probe (validation and test top-1) of every epoch-NNNN checkpoint of the run."""
    curve = []
    for ckpt in sorted((run / "checkpoints").glob("epoch-*.pt")):
        epoch = checkpoint.load_meta(ckpt)["epoch"]
        point = {"epoch": epoch}
        for validation in (True, False):
            r = linear_eval(LinearConfig(data=data, benchmark=benchmark, checkpoint=str(ckpt), validation=validation,
                                         epochs=epochs, workers=workers, out=str(out / "curve" / ckpt.stem)))
            point["validation" if validation else "test"] = r["top1"]
        log(f"probe curve: epoch {epoch}: validation {point['validation']:.1f}, test {point['test']:.1f}")
        curve.append(point)
    return curve


def earlier_result(cfg: FinetuneConfig) -> dict | None:
    """The result file of an identical earlier semi run (same config, encoder and dataset), so that an
    interrupted evidence run, or one whose random-init runs were done ahead, resumes instead of redoing."""
    path = result_path("semi", cfg, cfg.seed)
    if not path.exists():
        return None
    r = records.read(path, records.EvalResult).model_dump()
    encoder = checkpoint.load_meta(cfg.checkpoint)["weights_sha256"] if cfg.checkpoint else random_weights_id(cfg.random_init)
    same = comparable(r["config"] or {}) == comparable(config_record(cfg)) \
        and r["checkpoint_sha256"] == encoder and r["dataset_identity"] == PreparedData.open(cfg.data).identity
    return r if same else None


def comparable(config: dict) -> dict:
    """A run config with its paths resolved (data/nwucla and /abs/data/nwucla are the same dataset)."""
    return {k: str(Path(v).resolve()) if k in ("data", "out", "checkpoint") and v else v for k, v in config.items()}


def evidence(cfg: EvidenceConfig, log=print) -> dict:
    """Run every evaluation of `cfg.run` (see the module docstring); return and write the summary."""
    started = time.perf_counter()
    run, out, benchmark, workers = Path(cfg.run), Path(cfg.out), cfg.benchmark, cfg.workers
    data = PreparedData.open(cfg.data)                  # read once, for every evaluation below
    pretrain = records.read(run / "pretrain.json", records.PretrainRecord).model_dump(by_alias=True)
    src = sources(run, out, pretrain["model_config"])
    if cfg.semi_runs:                               # every semi-supervised list there before hours of probes
        check_lists(data, benchmark, cfg.percents, cfg.semi_seeds)
    recipe = {k: pretrain["run_config"].get(k, default) for k, default in RECIPE.items()}
    info = DATASETS[pretrain["dataset"]]                                   # what None (the dataset's default) meant
    recipe |= {"preset": recipe["preset"] or info.pretrain_preset,
               "epochs": pretrain.get("epochs_total") or recipe["epochs"] or info.pretrain_epochs}
    summary = {"dataset": pretrain["dataset"], "benchmark": benchmark, "run": str(run), "recipe": recipe,
               "model_config": pretrain["model_config"], "pretrain_minutes": round(pretrain["wall_s"] / 60, 1),
               "pretrain_steps": pretrain["steps"], "final_loss": pretrain["final_loss"],
               "pretrain_commit": pretrain["git_commit"], "commit": checkpoint.git_commit()}

    # ------------------------------------------------------------------ linear and kNN, three encoders
    for split, validation in (("test", False), ("validation", True)):
        for name in ENCODERS:
            lin = linear_eval(LinearConfig(data=data, benchmark=benchmark, validation=validation, workers=workers,
                                           epochs=cfg.probe_epochs, **src[name]))
            knn = knn_eval(KnnConfig(data=data, benchmark=benchmark, validation=validation, workers=workers, **src[name]))
            summary.setdefault(split, {}).setdefault("linear", {})[name] = lin["top1"]
            summary[split].setdefault("knn", {})[name] = knn["top1"]
            log(f"{split}: {name}: linear {lin['top1']:.1f}, kNN {knn['top1']:.1f}")
    summary["paper"] = {k[0]: v for k, v in PAPER.items() if k[1:] == (pretrain["dataset"], benchmark)}

    # ------------------------------------------------------------------ probe curve
    summary["curve"] = probe_curve(run, data, benchmark, out, workers, cfg.probe_epochs, log)
    if summary["curve"]:
        plots.probe_curve(summary["curve"], {"random init": summary["test"]["linear"]["random"],
                                             "hand-crafted": summary["test"]["linear"]["handcrafted"]},
                          summary["paper"].get("linear"), out / "probe_curve.png",
                          f"{pretrain['dataset']} {benchmark}: {summary['recipe']['preset']}() preset, "
                          f"{summary['pretrain_minutes']:.0f} minutes of pretraining ({summary['recipe']['epochs']} epochs)")

    # ------------------------------------------------------------------ semi-supervised
    write(summary, out, complete=False)
    for percent in cfg.percents:
        results = {"pretrained": [], "random": []}
        for seed in cfg.semi_seeds:                                   # seed by seed, both encoders: partial results pair up
            for name, runs in results.items():
                s = dict(src[name])
                if name == "random":
                    s["random_init"] = {**s["random_init"], "seed": seed}
                semi = semi_config(data, benchmark, percent, seed=seed, epochs=cfg.semi_epochs,
                                  workers=0, **s)
                r = earlier_result(semi) or (finetune_eval(semi) if cfg.semi_runs else None)
                if r is None:
                    log(f"semi {percent}% {name} seed {seed}: not run")
                    continue
                log(f"semi {percent}% {name} seed {seed}: {r['top1']:.1f} ({r['wall_s']:.0f} s)")
                runs.append(r)
                m = summarize(runs, semi)
                summary.setdefault("semi", {}).setdefault(f"{percent}pct", {})[name] = {
                    "mean": m["top1"], "std": m["top1_std"], "per_seed": m["per_seed_top1"], "seeds": m["seeds"]}
            write(summary, out, complete=False)

    summary["evaluation_minutes"] = round((time.perf_counter() - started) / 60, 1)
    write(summary, out, complete=True)
    encoders = [out / n for n in ENCODERS]
    report_figures(collect(encoders), [run] + encoders, out)      # accuracy.png, loss-<run>.png
    return summary


def write(summary: dict, out: Path, complete: bool) -> None:
    """evidence.json (marked incomplete until the last evaluation is in) and report.md."""
    summary["complete"] = complete
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("evidence.json", json.dumps(summary, indent=1) + "\n"),
                       ("report.md", markdown(collect([out / n for n in ENCODERS])))):
        with atomic_file(out / name) as tmp:
            tmp.write_text(text)


def semi_text(summary: dict) -> str:
    """'5 %: 66.4 ± 1.2 vs 40.0 ± 2.0 (random)' lines."""
    lines = []
    for key, by in summary.get("semi", {}).items():
        p, r = by["pretrained"], by["random"]
        lines.append(f"semi {key}: pretrained {p['mean']:.1f} ± {p['std']:.1f}, random {r['mean']:.1f} ± {r['std']:.1f}")
    return "\n".join(lines)
