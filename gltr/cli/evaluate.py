"""`gltr linear`, `knn`, `semi`, `finetune`, `report`, `evidence`, `attention`, `show`: evaluation and analysis."""
from dataclasses import replace
from inspect import signature
from pathlib import Path

import typer

from gltr.cli.common import (BENCHMARK_HELP, CHECKPOINT_HELP, DATA_HELP, EVAL_OUT_HELP, RANDOM_INIT_HELP, Features,
                             FinetuneSchedule, Preset, Protocol, ShowWhat, command, dataset_default, default_text, fail,
                             given, print_err, print_out)
from gltr.safety import atomic_file
from gltr.configs import (PERCENTS, SEMI_RECIPE, AttentionConfig, EvidenceConfig, FinetuneConfig, KnnConfig, LinearConfig,
                          check_distinct, check_options, semi_config)
from gltr.analysis.show import MAX_FRAMES, MAX_SIDE, show as render_sample


def eval_target(checkpoint: Path | None, random_init: bool, out: Path | None, features: Features | None = None,
                preset: Preset | None = None, random_seed: int | None = None):
    """Exactly one of --checkpoint, --random-init, --features handcrafted; the last two need --out; --preset (and
    kNN's --seed) only with --random-init, where they mean something."""
    for option, value in (("--preset", preset), ("--seed", random_seed)):
        if value is not None and not random_init:
            fail(f"{option}: only with --random-init (it chooses the random encoder)")
    chosen = [name for name, given in (("--checkpoint", checkpoint is not None), ("--random-init", random_init),
                                       ("--features handcrafted", features == Features.handcrafted)) if given]
    if len(chosen) != 1:
        fail("give exactly one of --checkpoint, --random-init or --features handcrafted"
             + (f" (got {', '.join(chosen)})" if chosen else ""))
    if checkpoint is None and out is None:
        fail(f"{chosen[0]} needs --out (there is no checkpoint run folder)")


def distinct_seeds(seeds: list[int] | None) -> list[int]:
    """--seed given once or more (none: the config's default), each once."""
    seeds = seeds or [FinetuneConfig.seed]
    check_distinct("--seed", seeds)
    return seeds


@command(compute=True)
def linear(checkpoint: Path = typer.Option(None, help=CHECKPOINT_HELP),
           data: str = typer.Option(..., help=DATA_HELP), benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
           epochs: int = typer.Option(None, help="probe epochs " + dataset_default("probe_epochs")),
           batch_size: int = typer.Option(None, help="probe batch size " + default_text(LinearConfig, "batch_size")),
           lr: float = typer.Option(None, help="Adam learning rate of the linear layer " + default_text(LinearConfig, "lr")),
           seed: int = typer.Option(None, help="seed of the probe's init and batch order " + default_text(LinearConfig, "seed")),
           protocol: Protocol = typer.Option(None, help="cached (fast) or reference (re-encode every epoch, as the original) "
                                             + default_text(LinearConfig, "protocol")),
           augment: bool = typer.Option(None, "--augment/--no-augment", help="reference protocol: interpolation on the "
                                        "training split " + default_text(LinearConfig, "augment")),
           dropout: bool = typer.Option(None, "--dropout/--no-dropout", help="reference protocol: dropout left active in "
                                        "the encoder " + default_text(LinearConfig, "dropout")),
           standardize: bool = typer.Option(None, "--standardize", help="standardise features with the training split's mean and std"),
           workers: int = typer.Option(None, help="loader processes " + default_text(LinearConfig, "workers")),
           out: Path = typer.Option(None, help=EVAL_OUT_HELP),
           random_init: bool = typer.Option(False, "--random-init", help=RANDOM_INIT_HELP),
           preset: Preset = typer.Option(None, help="with --random-init: the model widths [default: the dataset's pretraining preset]"),
           features: Features = typer.Option(None, help="handcrafted: the per-joint mean/std baseline "
                                             + default_text(LinearConfig, "features")),
           validation: bool = typer.Option(None, "--validation", help="score on the held-out training subjects (data_manifests/validation/)")):
    """Linear evaluation: frozen encoder, mean-pooled features, one linear layer (Adam)."""
    from gltr.train.downstream import random_init_spec
    from gltr.train.evaluate import linear_eval
    eval_target(checkpoint, random_init, out, features, preset)
    cfg = LinearConfig(data=str(data), benchmark=benchmark, **given(
        features=features and features.value, checkpoint=checkpoint and str(checkpoint), epochs=epochs, batch_size=batch_size, lr=lr,
        protocol=protocol and protocol.value,
        augment=augment, dropout=dropout, seed=seed, standardize=standardize, validation=validation,
        workers=workers, out=out and str(out)))
    if random_init:
        cfg = replace(cfg, random_init=random_init_spec(data, benchmark, preset and preset.value, cfg.seed))
    r = linear_eval(cfg)
    best = r["best_epoch_on_test_set"]
    print_out(f"linear {r['dataset']}/{benchmark} {r['encoder']} on {r['split']} ({r['protocol']}, {r['epochs']} epochs): "
              f"top-1 {r['top1']:.2f}  top-5 {r['top5']:.2f}   [best epoch on the {r['split']} set, not a result: "
              f"{best['top1']:.2f} at epoch {best['epoch']}]")


@command(compute=True)
def knn(checkpoint: Path = typer.Option(None, help=CHECKPOINT_HELP), data: str = typer.Option(..., help=DATA_HELP),
        benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
        k: int = typer.Option(None, help="neighbours that vote (1: the retrieval protocol) " + default_text(KnnConfig, "k")),
        workers: int = typer.Option(None, help="loader processes " + default_text(KnnConfig, "workers")),
        out: Path = typer.Option(None, help=EVAL_OUT_HELP),
        random_init: bool = typer.Option(False, "--random-init", help=RANDOM_INIT_HELP),
        seed: int = typer.Option(None, help="with --random-init: the seed of the random weights "
                                 + default_text(KnnConfig, "seed")),
        preset: Preset = typer.Option(None, help="with --random-init [default: the dataset's pretraining preset]"),
        features: Features = typer.Option(None, help="handcrafted: the per-joint mean/std baseline "
                                          + default_text(KnnConfig, "features")),
        validation: bool = typer.Option(None, "--validation", help="score on the held-out training subjects")):
    """kNN evaluation (the k nearest by cosine, one vote each, as scikit-learn) on the cached features."""
    from gltr.train.downstream import random_init_spec
    from gltr.train.evaluate import knn_eval
    eval_target(checkpoint, random_init, out, features, preset, seed)
    cfg = KnnConfig(data=str(data), benchmark=benchmark, **given(
        features=features and features.value, checkpoint=checkpoint and str(checkpoint), k=k, workers=workers, out=out and str(out), validation=validation,
        seed=seed))
    if random_init:
        cfg = replace(cfg, random_init=random_init_spec(data, benchmark, preset and preset.value, cfg.seed))
    r = knn_eval(cfg)
    print_out(f"knn {r['dataset']}/{benchmark} {r['encoder']} on {r['split']} (k={r['k']}): top-1 {r['top1']:.2f}"
        + (f"  top-5 {r['top5']:.2f}" if r["top5"] is not None else ""))


@command(compute=True)
def semi(checkpoint: Path = typer.Option(None, help=CHECKPOINT_HELP), data: str = typer.Option(..., help=DATA_HELP),
         benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
         percent: int = typer.Option(..., help="one of " + ", ".join(map(str, PERCENTS))),
         seed: list[int] = typer.Option(None, help="one or more seeds (repeat the option); several give mean "
                                            "± std " + default_text(FinetuneConfig, "seed")),
         epochs: int = typer.Option(None, help="fine-tuning epochs " + default_text(SEMI_RECIPE, "epochs")),
         batch_size: int = typer.Option(None, help="clips per step " + default_text(SEMI_RECIPE, "batch_size")),
         lr: float = typer.Option(None, help="encoder lr " + default_text(SEMI_RECIPE, "lr")),
         head_lr: float = typer.Option(None, help="lr of the linear head " + default_text(SEMI_RECIPE, "head_lr")),
         workers: int = typer.Option(None, help="loader processes (0: in the main process) " + default_text(FinetuneConfig, "workers")),
         out: Path = typer.Option(None, help=EVAL_OUT_HELP),
         random_init: bool = typer.Option(False, "--random-init", help=RANDOM_INIT_HELP),
         preset: Preset = typer.Option(None, help="with --random-init [default: the dataset's pretraining preset]")):
    """Semi-supervised: fine-tune encoder + linear head on the committed class-balanced sample list."""
    from gltr.train.downstream import random_init_spec
    from gltr.train.finetune import check_lists, finetune_eval, summarize
    from gltr.train.prepared import PreparedData
    eval_target(checkpoint, random_init, out, preset=preset)
    seeds = distinct_seeds(seed)
    data = PreparedData.open(data)                              # read once for every seed
    cfgs = [semi_config(data, benchmark, percent, seed=s, **given(   # all checked first
        checkpoint=checkpoint and str(checkpoint), epochs=epochs, batch_size=batch_size, lr=lr, head_lr=head_lr,
        workers=workers, out=out and str(out),
        random_init=random_init_spec(data, benchmark, preset and preset.value, s) if random_init else None))
        for s in seeds]
    check_lists(data, benchmark, [percent], seeds)              # every seed's list is there before any seed trains
    results = []
    for cfg in cfgs:
        r = finetune_eval(cfg)
        print_out(f"semi {percent}% seed {cfg.seed}: top-1 {r['top1']:.2f}  top-5 {r['top5']:.2f} "
                  f"({r['train_samples']} labelled samples)")
        results.append(r)
    if len(results) > 1:
        m = summarize(results, cfg)
        print_out(f"semi {percent}% over seeds {m['seeds']}: top-1 {m['top1']:.2f} ± {m['top1_std']:.2f}  "
                  f"top-5 {m['top5']:.2f} ± {m['top5_std']:.2f}")


@command(compute=True)
def finetune(checkpoint: Path = typer.Option(None, help=CHECKPOINT_HELP), data: str = typer.Option(..., help=DATA_HELP),
             benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
             seed: list[int] = typer.Option(None, help="one or more seeds (repeat the option); several give mean "
                                            "± std " + default_text(FinetuneConfig, "seed")),
             epochs: int = typer.Option(None, help="fine-tuning epochs " + default_text(FinetuneConfig, "epochs")),
             batch_size: int = typer.Option(None, help="clips per step " + default_text(FinetuneConfig, "batch_size")),
             lr: float = typer.Option(None, help="AdamW lr of the top block " + default_text(FinetuneConfig, "lr")),
             head_lr: float = typer.Option(None, help="lr of the linear head [default: --lr]"),
             weight_decay: float = typer.Option(None, help="AdamW weight decay " + default_text(FinetuneConfig, "weight_decay")),
             warmup_epochs: int = typer.Option(None, help="linear warm-up " + default_text(FinetuneConfig, "warmup_epochs")),
             schedule: FinetuneSchedule = typer.Option(None, help="lr after the warm-up " + default_text(FinetuneConfig, "schedule")),
             layer_decay: float = typer.Option(None, help="each block gets this times the lr of the one "
                                               "above " + default_text(FinetuneConfig, "layer_decay")),
             label_smoothing: float = typer.Option(None, help="cross-entropy label smoothing "
                                                   + default_text(FinetuneConfig, "label_smoothing")),
             drop_path: float = typer.Option(None, help="stochastic depth of the last block "
                                             + default_text(FinetuneConfig, "drop_path")),
             workers: int = typer.Option(None, help="loader processes (0: in the main process) "
                                         + default_text(FinetuneConfig, "workers")),
             out: Path = typer.Option(None, help=EVAL_OUT_HELP),
             random_init: bool = typer.Option(False, "--random-init", help="train from scratch (the baseline; needs --out)"),
             preset: Preset = typer.Option(None, help="with --random-init [default: the dataset's pretraining preset]"),
             validation: bool = typer.Option(None, "--validation", help="train without the held-out training subjects "
                                             "and score on them (data_manifests/validation/)")):
    """Fine-tuning: the whole encoder and a linear head on 100 % of the training labels (or from scratch)."""
    from gltr.train.downstream import random_init_spec
    from gltr.train.finetune import finetune_eval, summarize
    eval_target(checkpoint, random_init, out, preset=preset)
    seeds = distinct_seeds(seed)
    cfgs = [FinetuneConfig(data=str(data), benchmark=benchmark, seed=s, **given(                # all checked first
        checkpoint=checkpoint and str(checkpoint), epochs=epochs, batch_size=batch_size, lr=lr, head_lr=head_lr,
        weight_decay=weight_decay, warmup_epochs=warmup_epochs, schedule=schedule and schedule.value,
        layer_decay=layer_decay, label_smoothing=label_smoothing, drop_path=drop_path, workers=workers,
        out=out and str(out), validation=validation,
        random_init=random_init_spec(data, benchmark, preset and preset.value, s) if random_init else None))
        for s in seeds]
    results = []
    for cfg in cfgs:
        r = finetune_eval(cfg)
        print_out(f"finetune {r['dataset']}/{benchmark} {r['encoder']} on {r['split']} seed {cfg.seed}: top-1 {r['top1']:.2f}  "
                  f"top-5 {r['top5']:.2f} ({r['train_samples']} labelled samples, {cfg.epochs} epochs, final epoch)")
        results.append(r)
    if len(results) > 1:
        m = summarize(results, cfg)
        print_out(f"finetune over seeds {m['seeds']}: top-1 {m['top1']:.2f} ± {m['top1_std']:.2f}")


@command()
def report(runs: list[Path] = typer.Argument(..., help="run folders (holding eval/*.json)"),
           out: Path = typer.Option(None, help="also write the table to this file (figures go beside it)"),
           figures: bool = typer.Option(True, help="write accuracy.png and loss-<run>.png [beside --out, else in the first run]")):
    """All evaluation results of the runs as a markdown table beside the paper's numbers, and figures."""
    from gltr.analysis.report import collect, figures as report_figures, markdown
    stale = []
    rows = collect(runs, stale)
    for path, why in stale:
        print_err(f"warning: {path} left out: {why}")
    if not rows:
        fail(f"no current evaluation results under {', '.join(map(str, runs))} (eval/*.json)")
    table = markdown(rows) + "".join(f"\nLeft out, stale: {path} ({why})" for path, why in stale) + ("\n" if stale else "")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(out) as tmp:
            tmp.write_text(table)
    print_out(table, end="")
    if figures:
        written = report_figures(rows, runs, out.parent if out else runs[0])
        print_out("figures: " + ", ".join(map(str, written)))


@command(compute=True)
def evidence(data: Path = typer.Option(..., help="prepared dataset the run was pretrained on"),
             run: Path = typer.Option(..., help="pretraining run folder (pretrain.json, checkpoints/)"),
             out: Path = typer.Option(None, help="folder for evidence.json, report.md and the figures "
                                      + default_text(EvidenceConfig, "out")),
             benchmark: str = typer.Option(None, help=BENCHMARK_HELP + " " + default_text(EvidenceConfig, "benchmark")),
             semi_seeds: list[int] = typer.Option(None, "--semi-seed", help="repeat; none: --semi-seed -1 "
                                                  + default_text(EvidenceConfig, "semi_seeds")),
             workers: int = typer.Option(None, help="loader processes " + default_text(EvidenceConfig, "workers")),
             semi_runs: bool = typer.Option(None, "--semi-runs/--no-semi-runs",
                                            help="--no-semi-runs: gather the semi-supervised results already done, run none")):
    """Every evaluation of a pretraining run beside its baselines, the probe curve and the semi-supervised table."""
    from gltr.analysis.evidence import evidence as run_evidence, semi_text
    seeds = None if semi_seeds is None else tuple(s for s in semi_seeds if s != -1)
    cfg = EvidenceConfig(data=str(data), run=str(run), **given(
        out=out and str(out), benchmark=benchmark, semi_seeds=seeds, percents=() if seeds == () else None,
        workers=workers, semi_runs=semi_runs))
    out = Path(cfg.out)
    summary = run_evidence(cfg, log=lambda line: print_err(line))
    for split in ("test", "validation"):
        for kind in ("linear", "knn"):
            r = summary[split][kind]
            print_out(f"{split} {kind}: pretrained {r['pretrained']:.1f}  random {r['random']:.1f}  "
                      f"hand-crafted {r['handcrafted']:.1f}")
    if cfg.semi_seeds:
        print_out(semi_text(summary))
    print_out(f"-> {out / 'evidence.json'}, {out / 'report.md'}, {out / 'probe_curve.png'}, "
              f"{out / 'accuracy.png'}")


@command(compute=True)
def attention(checkpoints: list[Path] = typer.Option(..., "--checkpoint", help="pretrained checkpoint; repeat to compare"),
              data: Path = typer.Option(..., help="prepared dataset"), benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
              samples: int = typer.Option(None, help="test sequences " + default_text(AttentionConfig, "samples")),
              frames: int = typer.Option(None, help="temporal-map frames, at most the model's T_max "
                                         + default_text(AttentionConfig, "frames")),
              batch_size: int = typer.Option(None, help="sequences per forward pass (bounds memory) "
                                             + default_text(AttentionConfig, "batch_size")),
              workers: int = typer.Option(None, help="loader processes " + default_text(AttentionConfig, "workers")),
              out: Path = typer.Option(None, help="folder for attention.json and the PNGs " + default_text(AttentionConfig, "out"))):
    """The paper's attention analysis: temporal and spatial maps, attended frame distance per head (JSON + PNG)."""
    from gltr.analysis.attention import analyse
    cfg = AttentionConfig(checkpoints=tuple(map(str, checkpoints)), data=str(data), benchmark=benchmark,
                          **given(samples=samples, frames=frames, batch_size=batch_size, workers=workers,
                                  out=str(out) if out else None))
    summary = analyse(cfg, log=lambda line: print_err(line))
    for e in summary["encoders"]:
        print_out(f"{e['checkpoint']} (intervals {e['intervals']}): mean attended frame distance "
                  f"{sum(map(sum, e['mean_distance'])) / sum(map(len, e['mean_distance'])):.2f} frames")
    print_out(f"-> {Path(cfg.out) / 'attention.json'}, " + ", ".join(summary["figures"]))


@command()
def show(data: Path = typer.Argument(..., help="prepared dataset"),
         sample_id: str = typer.Argument(..., help="a sample id from manifest.parquet, e.g. S001C001P001R001A050"),
         out: Path = typer.Option(..., help="FILE.png (contact sheet), FILE.gif or FILE.mp4 (needs ffmpeg)"),
         what: ShowWhat = typer.Option(None, help="joints (camera coordinates) or motion (the normalised model input) "
                                  + default_text(render_sample, "what")),
         frames: int = typer.Option(None, help=f"frames on a .png contact sheet, at most {MAX_FRAMES} "
                                    + default_text(render_sample, "frames")),
         size: str = typer.Option(None, help="WIDTHxHEIGHT in pixels, at most {0}x{0} [default: {1}x{2}]".format(
             MAX_SIDE, *signature(render_sample).parameters["size"].default))):
    """Render one sample: skeleton with its bones, one colour per person, fixed axes, frame counter."""
    check_options("show", frames=frames)
    try:
        dims = tuple(int(v) for v in size.lower().split("x")) if size else None
        if dims is not None and len(dims) != 2:
            raise ValueError
    except ValueError:
        fail(f"--size must be WIDTHxHEIGHT in pixels, e.g. 960x540, not {size!r}")
    path = render_sample(data, sample_id, out, **given(what=what and what.value, frames=frames, size=dims))
    print_out(f"-> {path}")
