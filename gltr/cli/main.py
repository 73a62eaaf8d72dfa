"""The `gltr` command line.

    gltr synth ntu --out /tmp/raw --samples 200
    gltr prepare ntu120 --raw /tmp/raw --out data/demo --workers 2
    gltr inspect data/demo
    gltr verify data/demo
"""
import functools
import json
import os
import sys
import tarfile
import zipfile
from enum import Enum
from dataclasses import replace
from inspect import signature
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from gltr.configs import (AttentionConfig, DemoConfig, EvidenceConfig, FinetuneConfig, KnnConfig, LinearConfig,
                          PretrainConfig, SemiConfig, PRECISIONS)
from gltr.export.ctrgcn import export_ctrgcn as run_ctrgcn
from gltr.pipeline.prepare import prepare as run_prepare
from gltr.pipeline.synth import synth_ntu
from gltr.safety import shown
from gltr.show import MAX_FRAMES, MAX_SIDE, show as render_sample

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="GL-Transformer toolkit: prepare skeleton datasets, pretrain, evaluate.")
# markup off: no string is ever parsed as markup; say()/tell() print every string through safety.shown
console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)   # one line per problem, never wrapped
out_console = Console(soft_wrap=True, markup=False, highlight=False)


def say(*parts, style: str | None = None, end: str = "\n") -> None:
    """Print to stdout; strings literally (control characters replaced), rich objects (tables) as they are."""
    out_console.print(*(shown(p, style) if isinstance(p, str) else p for p in parts), end=end)


def tell(*parts, style: str | None = None) -> None:
    """The same on stderr (progress, warnings, errors)."""
    console.print(*(shown(p, style) if isinstance(p, str) else p for p in parts))


class Dataset(str, Enum):
    ntu60 = "ntu60"
    ntu120 = "ntu120"
    nwucla = "nwucla"
    pkummd1 = "pkummd1"
    pkummd2 = "pkummd2"


class Clip(str, Enum):
    mamp = "start:end"
    aimclr = "start-1:end"


class Bodies(str, Enum):
    first2 = "first2"
    energy = "energy"
    denoise = "denoise"


class Rotation(str, Enum):
    sequence = "sequence"
    per_frame = "per-frame"


class RawKind(str, Enum):
    ntu = "ntu"
    nwucla = "nwucla"
    pkummd1 = "pkummd1"
    pkummd2 = "pkummd2"


class Preset(str, Enum):
    ntu = "ntu"
    nwucla = "nwucla"
    small = "small"
    tiny = "tiny"


class Features(str, Enum):
    encoder = "encoder"
    handcrafted = "handcrafted"


class Schedule(str, Enum):
    exp = "exp"
    cosine = "cosine"


Precision = Enum("Precision", {p: p for p in PRECISIONS}, type=str)


class PosInit(str, Enum):
    zeros = "zeros"
    sinusoid = "sinusoid"


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:,.0f} files/s", style="cyan")


class Protocol(str, Enum):
    cached = "cached"
    reference = "reference"


class ShowWhat(str, Enum):
    joints = "joints"
    motion = "motion"


DATA_HELP = "prepared dataset: a folder, or a URL prefix (http(s)://…, or pipe:CMD with {} for the path)"
BENCHMARK_HELP = "benchmark: xsub / xview (ntu60), xsub / xset (ntu120), view (nwucla)"
CHECKPOINT_HELP = "pretrained checkpoint (.pt: latest.pt or a weights-only epoch-NNNN.pt)"
EVAL_OUT_HELP = "folder for eval/*.json and feature caches [default: the checkpoint's run folder]"
RANDOM_INIT_HELP = "evaluate a randomly initialised encoder instead (the baseline; needs --out)"


def given(**options) -> dict:
    """The options the user gave (not None): the config dataclass owns every default."""
    return {k: v for k, v in options.items() if v is not None}


def default(owner, name: str) -> str:
    """'[default: X]' for a help text, read from the owner of the default: a config dataclass or a function."""
    if hasattr(owner, "__dataclass_fields__"):
        value = owner.__dataclass_fields__[name].default
    else:
        value = signature(owner).parameters[name].default
    return f"[default: {value}]"


COMPUTE = {"pretrain", "linear", "knn", "semi", "finetune", "attention", "evidence", "demo"}   # commands that set the thread policy


@app.callback()
def start(ctx: typer.Context,
          threads: int = typer.Option(None, min=1, envvar="GLTR_THREADS",
                                      help="torch threads for training and evaluation [default: one per CPU that "
                                           "other processes leave idle, re-chosen while training]"),
          debug: bool = typer.Option(False, "--debug", help="on an error, show the Python traceback (also "
                                     "GLTR_DEBUG=1) instead of one line")):
    """GL-Transformer toolkit: prepare skeleton datasets, pretrain, evaluate."""
    from gltr import resources
    DEBUG["on"] = debug or os.environ.get("GLTR_DEBUG", "") not in ("", "0")
    if ctx.invoked_subcommand in COMPUTE:
        resources.apply(threads)


def fail(message: str, code: int = 2):
    """A user error found by the command line itself: one line, exit `code`."""
    tell(shown("error: ", "red") + shown(message))
    raise typer.Exit(code)


# ----------------------------------------------------------------------------- the one error handler

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
               PermissionError)                                           # exit 2: fix the input and run again
RUN_ERRORS = (OSError, RuntimeError, FloatingPointError, tarfile.TarError, zipfile.BadZipFile, EOFError,
              MemoryError)                                                # exit 1: the work failed


def describe(e: BaseException) -> str:
    """One line saying what failed and why: `<what>: <why>`."""
    text = str(e).strip()
    if "Original Traceback" in text:                 # re-raised from a DataLoader worker: its last line says it
        text = text.splitlines()[-1].split(": ", 1)[-1]
    if isinstance(e, OSError) and e.filename is not None:
        why = e.strerror or text
        text = f"{e.filename}: {why}" + (f" (-> {e.filename2})" if e.filename2 else "")
        if e.errno == 28:
            text += ": the disk is full"
    elif isinstance(e, MemoryError):
        text = "out of memory" + (f": {text}" if text else "")
    elif isinstance(e, tarfile.TarError):
        text = f"not a readable tar file: {text}"
    elif isinstance(e, zipfile.BadZipFile):
        text = f"not a readable zip/npz file: {text}"
    elif isinstance(e, json.JSONDecodeError):
        text = f"not valid JSON: {text}"
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else " ".join(line.strip() for line in lines) if lines else type(e).__name__


DEBUG = {"on": False}       # set by --debug / GLTR_DEBUG in the callback, before any command runs


def error_line(e: BaseException) -> tuple[str, int]:
    """(the one line, the exit status) for an exception that ended a command."""
    if isinstance(e, USER_ERRORS):
        return describe(e), 2
    if isinstance(e, RUN_ERRORS):
        return describe(e), 1
    return (f"internal error ({type(e).__name__}: {describe(e)}); please report it with the output of the same "
            f"command run with --debug"), 3


def command(name: str | None = None, group=None):
    """Register a command of `group` (default: the app) whose every error ends as one line `error: <what>: <why>`,
    exit 2 (bad input or options), 1 (the work failed) or 3 (a bug); --debug or GLTR_DEBUG=1 shows the
    traceback instead. This is the command line's one error handler."""
    def register(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (typer.Exit, typer.Abort, typer.BadParameter):
                raise
            except Exception as e:
                if DEBUG["on"]:
                    raise
                line, code = error_line(e)
                tell(shown("error: ", "red") + shown(line))
                raise typer.Exit(code) from None
        return (group or app).command(name)(run)
    return register


@command()
def prepare(dataset: Dataset = typer.Argument(..., help="which dataset the raw files are (format, classes, splits)"),
            raw: Path = typer.Option(..., help="folder holding the raw files (searched recursively)"),
            out: Path = typer.Option(None, help="output folder [default: ./data/<dataset>]"),
            workers: int = typer.Option(None, min=1, help="parallel processes " + default(run_prepare, "workers")),
            bodies: Bodies = typer.Option(None, help="body rule [default: first2 for ntu60, energy for ntu120]"),
            rotation: Rotation = typer.Option(None, help="rotation sign: one per sequence (faithful) or per frame "
                                                       + default(run_prepare, "rotation")),
            clip: Clip = typer.Option(None, help="PKU-MMD: an instance's rows, [start:end) as MAMP or [start-1:end) "
                                      "as AimCLR [default: start:end]"),
            shard_size: int = typer.Option(None, min=1, help="samples per WebDataset shard " + default(run_prepare, "shard_size")),
            overwrite: bool = typer.Option(False, help="replace an existing output folder")):
    """Convert raw skeleton files into a prepared dataset (Zarr store, Parquet manifest, WebDataset shards)."""
    from gltr.datasets import make_variant
    from gltr.pipeline.prepare import check_output, exit_status
    out = out or Path("data") / dataset.value
    make_variant(dataset.value, bodies and bodies.value, (rotation or Rotation.sequence).value, clip and clip.value)
    check_output(raw, out, overwrite)                  # options, then the output: refused before a progress bar
    columns = [TextColumn("prepare {task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(dataset.value, total=None)

        def progress(advance, total):
            bar.update(task, advance=advance, total=total)

        def log(line):
            bar.console.print(shown("skipped ", "yellow") + shown(line))
        try:
            report = run_prepare(dataset.value, raw, out, overwrite=overwrite, log=log, progress=progress,
                                 **given(workers=workers, bodies=bodies and bodies.value, rotation=rotation and rotation.value,
                                         clip=clip and clip.value, shard_size=shard_size))
        except KeyboardInterrupt:
            fail(f"interrupted: nothing was written to {out}; the partial output {out}.partial is redone on the next run", 130)
    table = Table(title=shown(f"prepared {dataset.value} -> {out}"))
    table.add_column("what")
    table.add_column("count", justify="right")
    for k, v in report["counts"].items():
        table.add_row(k.replace("_", " "), f"{v:,}")
    empty = []
    for b, s in report["splits"].items():
        table.add_row(f"{b} train / test", f"{s['train']:,} / {s['test']:,}"
                      + "".join(f"  (EMPTY {split})" for split in ("train", "test") if not s[split]))
        empty += [f"{b}/{split}" for split in ("train", "test") if not s[split]]
    table.add_row("files/s", f"{report['run']['files_per_s']:,}")
    say(table)
    for name in empty:
        tell(shown("warning: ", "yellow") + shown(f"split {name} holds no sample: every trainer and evaluation "
                                                   f"refuses it; were files of that split among the raw files?"))
    if report["counts"]["failed"]:
        tell(shown(f"{report['counts']['failed']} file(s) failed", "red") + shown(f": see {out / 'prepare.json'}"))
    raise typer.Exit(exit_status(report))


@command()
def verify(path: Path = typer.Argument(..., help="prepared dataset folder")):
    """Re-check the sha256 of every file of a prepared dataset."""
    from gltr.pipeline.verify import verify as run_verify
    problems = run_verify(path)
    for p in problems:
        tell(shown("corrupt ", "red") + shown(f"{path}/{p}"))
    if problems:
        raise typer.Exit(1)
    say(f"{path}: all files match prepare.json")


@command()
def inspect(path: Path = typer.Argument(..., help="prepared dataset folder"), as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables")):
    """Counts per split and class, a length histogram and the variant of a prepared dataset."""
    from gltr.pipeline.inspect import summarize
    if not (path / "prepare.json").exists():
        fail(f"{path} is not a prepared dataset (no prepare.json)")
    s = summarize(path)
    if as_json:
        out_console.print_json(json.dumps(s))
        return
    v = s["variant"]
    say(shown(s['dataset'], "bold") + shown(f"  bodies={v['bodies']} rotation={v['rotation']} "
                      f"centre={v['centre_joint']} intervals={v['intervals']} t_max={v['t_max']}"))
    t = Table(title="samples per split and class")
    t.add_column("split")
    t.add_column("total", justify="right")
    t.add_column("per class (label 0, 1, ...)")
    for name, counts in s["per_class"].items():
        t.add_row(name, str(sum(counts)), " ".join(map(str, counts)))
    say(t)
    h = Table(title=f"length (frames): min {s['length']['min']}, mean {s['length']['mean']:.1f}, max {s['length']['max']}")
    h.add_column("frames")
    h.add_column("samples", justify="right")
    h.add_column("")
    peak = max([b["count"] for b in s["length"]["histogram"]] + [1])
    for b in s["length"]["histogram"]:
        h.add_row(f"{b['from']}-{b['to']}", str(b["count"]), "█" * round(30 * b["count"] / peak))
    say(h)


@command()
def synth(kind: RawKind = typer.Argument(..., help="raw format to write: NTU .skeleton, NW-UCLA JSON or a PKU-MMD "
                                         "Phase I / II folder (skeleton/, label/, split files)"),
          out: Path = typer.Option(..., help="folder to write the raw files into"),
          samples: int = typer.Option(200, min=1, help="number of raw files (PKU-MMD: sequences, each of 3-5 instances)"),
          seed: int = typer.Option(0, help="random seed (the same seed writes the same files)"), classes: int = typer.Option(None, min=1, max=120, help="NTU: at most 120; NW-UCLA: "
                                                                   "at most 10; PKU-MMD: 51 / 41 " + default(synth_ntu, "classes"))):
    """Write synthetic raw files in the genuine NTU `.skeleton` / NW-UCLA JSON / PKU-MMD formats."""
    from gltr.pipeline.synth import synth_nwucla, synth_pku
    write = {RawKind.ntu: synth_ntu, RawKind.nwucla: synth_nwucla,
             RawKind.pkummd1: functools.partial(synth_pku, phase=1),
             RawKind.pkummd2: functools.partial(synth_pku, phase=2)}[kind]
    try:
        paths = write(out, samples, seed=seed, **given(classes=classes))
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--classes")
    say(f"wrote {len(paths)} {kind.value} files to {out}")


@command()
def manifests(data: Path = typer.Option(Path("../shared/data"), help="folder with ntu_available/ and nw_ucla/"),
              pkummd1: Path = typer.Option(None, help="instead: make PKU-MMD Phase I's lists from this raw folder's "
                                           "label and split files"),
              pkummd2: Path = typer.Option(None, help="instead: the same for Phase II")):
    """Regenerate the semi-supervised and validation sample lists in data_manifests/ (deterministic)."""
    from gltr.pipeline.sample_lists import generate, generate_pku, generate_validation
    pku = {name: raw for name, raw in (("pkummd1", pkummd1), ("pkummd2", pkummd2)) if raw is not None}
    for name, raw in pku.items():
        index = generate_pku(name, raw)
        say(f"wrote {sum(k.startswith(name + '/') for k in index)} {name} sample lists under data_manifests/semi/")
    if pku:
        return
    index = generate(data)
    validation = generate_validation(data)
    say(f"wrote {len(index)} sample lists under data_manifests/semi/ and "
                      f"{len(validation)} under data_manifests/validation/")


@command()
def model(preset: Preset = typer.Option(Preset.ntu, help="model widths and depth"),
          frames: int = typer.Option(None, min=1, help="sequence length for GFLOPs [default: the preset's T_max]"),
          as_json: bool = typer.Option(False, "--json", help="print JSON instead of a sentence")):
    """Parameter counts (encoder, heads) and encoder forward GFLOPs per sequence."""
    from gltr.model.gltransformer import PRESETS, count_parameters, forward_gflops
    cfg = PRESETS[preset.value]()
    frames = frames or cfg.t_max
    if frames > cfg.t_max:
        fail(f"--frames {frames} exceeds the preset's T_max {cfg.t_max}")
    info = {"preset": preset.value, **count_parameters(cfg), "frames": frames,
            "forward_gflops_per_sequence": round(forward_gflops(cfg, frames), 3), "config": cfg.to_dict()}
    if as_json:
        out_console.print_json(json.dumps(info))
        return
    say(f"preset {preset.value}: encoder {info['encoder']:,} parameters, heads {info['heads']:,}, "
                      f"total {info['total']:,}; encoder forward {info['forward_gflops_per_sequence']:.1f} GFLOPs "
                      f"per sequence of {frames} frames")


@command()
def pretrain(data: str = typer.Option(..., help=DATA_HELP),
             benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
             preset: Preset = typer.Option(None, help="model widths and depth [default: the dataset's, nwucla or ntu]"),
             pos_init: PosInit = typer.Option(None, help="override the preset's positional-embedding init"),
             intervals: str = typer.Option(None, help="MPDP intervals, comma-separated, e.g. 1 or 1,5,10 [default: 1,5,10]"),
             epochs: int = typer.Option(None, help="training epochs [default: the dataset's: 120 NTU, 300 NW-UCLA]"),
             batch_size: int = typer.Option(None, help="clips per step, per process " + default(PretrainConfig, "batch_size")),
             lr: float = typer.Option(None, help="AdamW learning rate at epoch 0 " + default(PretrainConfig, "lr")),
             weight_decay: float = typer.Option(None, help="AdamW weight decay " + default(PretrainConfig, "weight_decay")),
             schedule: Schedule = typer.Option(None, help="exp: lr x --lr-decay each epoch (the authors'); cosine: "
                                               "--warmup-epochs of linear warm-up, then a cosine to 0 at the last step "
                                               + default(PretrainConfig, "schedule")),
             lr_decay: float = typer.Option(None, help="lr factor per epoch (exp) " + default(PretrainConfig, "lr_decay")),
             warmup_epochs: int = typer.Option(None, min=0, help="epochs of linear warm-up (cosine) "
                                               + default(PretrainConfig, "warmup_epochs")),
             precision: Precision = typer.Option(None, help="auto: the bf16 policy shown at parity with fp32 on this device "
                                           "type, else fp32; bf16-fp32-input: bf16 autocast with the input embeddings in fp32; "
                                           "the MPDP losses stay fp32 " + default(PretrainConfig, "precision")),
             compile: bool = typer.Option(None, "--compile/--no-compile", help="torch.compile the model, batches padded "
                                          "to multiples of 8 frames [default: on only where measured to pay back within an "
                                          "hour: nwucla() in bf16 on a CPU]"),
             trajectory_weight_all: bool = typer.Option(None, "--trajectory-weight-all",
                                                        help="0.05 on every interval's trajectory tokens (not just interval 1)"),
             augment: bool = typer.Option(None, "--augment/--no-augment", help="temporal interpolation and shear "
                                          + default(PretrainConfig, "augment")),
             workers: int = typer.Option(None, min=0, help="loader processes per rank " + default(PretrainConfig, "workers")),
             seed: int = typer.Option(None, help="seed of the weights' init, shard order and augmentation "
                                      + default(PretrainConfig, "seed")),
             save_every: int = typer.Option(None, min=1, help="keep a weights-only checkpoints/epoch-NNNN.pt every N "
                                            "epochs " + default(PretrainConfig, "save_every")),
             max_steps: int = typer.Option(None, help="stop and checkpoint after this many steps"),
             time_budget_min: float = typer.Option(None, help="stop and checkpoint after this many minutes"),
             out: Path = typer.Option(None, help="run folder (checkpoints/, metrics.jsonl, memory.jsonl, tb/, pretrain.json) "
                                      + default(PretrainConfig, "out")),
             resume: bool = typer.Option(None, "--resume", help="continue the run in --out from its checkpoints/latest.pt"),
             overwrite: bool = typer.Option(None, "--overwrite", help="start again in a non-empty --out")):
    """MPDP pretraining on the training split's shards (CPU, one GPU, or many under torchrun)."""
    from gltr.train.pretrain import train
    try:
        steps = tuple(int(n) for n in intervals.split(",")) if intervals else None
    except ValueError:
        fail(f"--intervals must be comma-separated integers, not {intervals!r}")
    summary = train(PretrainConfig(data=str(data), benchmark=benchmark, **given(
        out=out and str(out), preset=preset and preset.value, pos_init=pos_init and pos_init.value, intervals=steps,
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, lr_decay=lr_decay,
        schedule=schedule and schedule.value, warmup_epochs=warmup_epochs, precision=precision and precision.value,
        compile=compile, trajectory_weight_all=trajectory_weight_all,
        augment=augment, workers=workers, seed=seed, save_every=save_every, max_steps=max_steps,
        time_budget_s=time_budget_min and time_budget_min * 60, resume=resume, overwrite=overwrite)))
    say(f"pretrained {summary['steps']} steps in {summary['wall_s']:.0f} s, final loss "
                      f"{summary['final_loss']:.4f} -> {summary['checkpoint']}")
    sizes = summary["checkpoint_bytes"]
    say(f"checkpoints: {len(sizes)} files, {sum(sizes.values()) / 1e6:,.1f} MB ("
                      + ", ".join(f"{n} {b / 1e6:,.1f} MB" for n, b in sizes.items())
                      + "); latest.pt keeps the optimiser state for --resume, epoch-NNNN.pt the weights only")


def eval_target(checkpoint: Path | None, random_init: bool, out: Path | None, features: Features = Features.encoder):
    """Exactly one of --checkpoint, --random-init, --features handcrafted; the last two need --out."""
    chosen = [name for name, given in (("--checkpoint", checkpoint is not None), ("--random-init", random_init),
                                       ("--features handcrafted", features == Features.handcrafted)) if given]
    if len(chosen) != 1:
        fail("give exactly one of --checkpoint, --random-init or --features handcrafted"
             + (f" (got {', '.join(chosen)})" if chosen else ""))
    if checkpoint is None and out is None:
        fail(f"{chosen[0]} needs --out (there is no checkpoint run folder)")


@command()
def linear(checkpoint: Path = typer.Option(None, help=CHECKPOINT_HELP),
           data: str = typer.Option(..., help=DATA_HELP), benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
           epochs: int = typer.Option(None, help="probe epochs [default: the dataset's: 120 NTU, 300 NW-UCLA]"),
           batch_size: int = typer.Option(None, help="probe batch size " + default(LinearConfig, "batch_size")),
           lr: float = typer.Option(None, help="Adam learning rate of the linear layer " + default(LinearConfig, "lr")),
           seed: int = typer.Option(None, help="seed of the probe's init and batch order " + default(LinearConfig, "seed")),
           protocol: Protocol = typer.Option(None, help="cached (fast) or reference (re-encode every epoch, as the original) "
                                             + default(LinearConfig, "protocol")),
           augment: bool = typer.Option(None, "--augment/--no-augment", help="reference protocol: interpolation on the "
                                        "training split " + default(LinearConfig, "augment")),
           dropout: bool = typer.Option(None, "--dropout/--no-dropout", help="reference protocol: dropout left active in "
                                        "the encoder " + default(LinearConfig, "dropout")),
           standardize: bool = typer.Option(None, "--standardize", help="standardise features with the training split's mean and std"),
           workers: int = typer.Option(None, min=0, help="loader processes " + default(LinearConfig, "workers")),
           out: Path = typer.Option(None, help=EVAL_OUT_HELP),
           random_init: bool = typer.Option(False, "--random-init", help=RANDOM_INIT_HELP),
           preset: Preset = typer.Option(None, help="with --random-init: the model widths [default: the dataset's pretraining preset]"),
           features: Features = typer.Option(Features.encoder, help="handcrafted: the per-joint mean/std baseline"),
           validation: bool = typer.Option(None, "--validation", help="score on the held-out training subjects (data_manifests/validation/)")):
    """Linear evaluation: frozen encoder, mean-pooled features, one linear layer (Adam)."""
    from gltr.train.evaluate import linear_eval, random_init_spec
    eval_target(checkpoint, random_init, out, features)
    cfg = LinearConfig(data=str(data), benchmark=benchmark, features=features.value, **given(
        checkpoint=checkpoint and str(checkpoint), epochs=epochs, batch_size=batch_size, lr=lr,
        protocol=protocol and protocol.value,
        augment=augment, dropout=dropout, seed=seed, standardize=standardize, validation=validation,
        workers=workers, out=out and str(out)))
    if random_init:
        cfg = replace(cfg, random_init=random_init_spec(data, benchmark, preset and preset.value, cfg.seed))
    r = linear_eval(cfg)
    best = r["best_epoch_on_test_set"]
    say(f"linear {r['dataset']}/{benchmark} {r['encoder']} on {r['split']} ({r['protocol']}, {r['epochs']} epochs): "
                      f"top-1 {r['top1']:.2f}  top-5 {r['top5']:.2f}   \\[best epoch on the {r['split']} set, not a result: "
                      f"{best['top1']:.2f} at epoch {best['epoch']}]")


@command()
def knn(checkpoint: Path = typer.Option(None, help=CHECKPOINT_HELP), data: str = typer.Option(..., help=DATA_HELP),
        benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
        k: int = typer.Option(None, min=1, help="neighbours that vote (1: the retrieval protocol) " + default(KnnConfig, "k")),
        workers: int = typer.Option(None, min=0, help="loader processes " + default(KnnConfig, "workers")),
        out: Path = typer.Option(None, help=EVAL_OUT_HELP),
        random_init: bool = typer.Option(False, "--random-init", help=RANDOM_INIT_HELP),
        seed: int = typer.Option(0, help="with --random-init: the seed of the random weights"),
        preset: Preset = typer.Option(None, help="with --random-init [default: the dataset's pretraining preset]"),
        features: Features = typer.Option(Features.encoder, help="handcrafted: the per-joint mean/std baseline"),
        validation: bool = typer.Option(None, "--validation", help="score on the held-out training subjects")):
    """kNN evaluation (the k nearest by cosine, one vote each, as scikit-learn) on the cached features."""
    from gltr.train.evaluate import knn_eval, random_init_spec
    eval_target(checkpoint, random_init, out, features)
    r = knn_eval(KnnConfig(data=str(data), benchmark=benchmark, features=features.value, **given(
        checkpoint=checkpoint and str(checkpoint), k=k, workers=workers, out=out and str(out), validation=validation,
        random_init=random_init_spec(data, benchmark, preset and preset.value, seed) if random_init else None)))
    say(f"knn {r['dataset']}/{benchmark} {r['encoder']} on {r['split']} (k={r['k']}): top-1 {r['top1']:.2f}"
        + (f"  top-5 {r['top5']:.2f}" if r["top5"] is not None else ""))


@command()
def semi(checkpoint: Path = typer.Option(None, help=CHECKPOINT_HELP), data: str = typer.Option(..., help=DATA_HELP),
         benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
         percent: int = typer.Option(..., help="1, 5 or 10"),
         seed: list[int] = typer.Option([0], help="one or more seeds (repeat the option); several give mean ± std"),
         epochs: int = typer.Option(None, help="fine-tuning epochs " + default(SemiConfig, "epochs")),
         batch_size: int = typer.Option(None, help="clips per step " + default(SemiConfig, "batch_size")),
         lr: float = typer.Option(None, help="encoder lr " + default(SemiConfig, "lr")),
         head_lr: float = typer.Option(None, help="lr of the linear head " + default(SemiConfig, "head_lr")),
         workers: int = typer.Option(None, min=0, help="loader processes (0: in the main process) " + default(SemiConfig, "workers")),
         out: Path = typer.Option(None, help=EVAL_OUT_HELP),
         random_init: bool = typer.Option(False, "--random-init", help=RANDOM_INIT_HELP),
         preset: Preset = typer.Option(None, help="with --random-init [default: the dataset's pretraining preset]")):
    """Semi-supervised: fine-tune encoder + linear head on the committed class-balanced sample list."""
    from gltr.train.evaluate import random_init_spec, run_folder
    from gltr.train.semi import semi_eval, summarize_seeds
    eval_target(checkpoint, random_init, out)
    results = []
    for s in seed:
        cfg = SemiConfig(data=str(data), benchmark=benchmark, percent=percent, seed=s, **given(
            checkpoint=checkpoint and str(checkpoint), epochs=epochs, batch_size=batch_size, lr=lr, head_lr=head_lr,
            workers=workers, out=out and str(out),
            random_init=random_init_spec(data, benchmark, preset and preset.value, s) if random_init else None))
        r = semi_eval(cfg)
        say(f"semi {percent}% seed {s}: top-1 {r['top1']:.2f}  top-5 {r['top5']:.2f} "
                          f"({r['train_samples']} labelled samples)")
        results.append(r)
    if len(results) > 1:
        m = summarize_seeds(results, run_folder(cfg))
        say(f"semi {percent}% over seeds {m['seeds']}: top-1 {m['top1']:.2f} ± {m['top1_std']:.2f}  "
                          f"top-5 {m['top5']:.2f} ± {m['top5_std']:.2f}")


class Schedule(str, Enum):
    cosine = "cosine"
    constant = "constant"


@command()
def finetune(checkpoint: Path = typer.Option(None, help=CHECKPOINT_HELP), data: str = typer.Option(..., help=DATA_HELP),
             benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
             seed: list[int] = typer.Option([0], help="one or more seeds (repeat the option); several give mean ± std"),
             epochs: int = typer.Option(None, min=1, help="fine-tuning epochs " + default(FinetuneConfig, "epochs")),
             batch_size: int = typer.Option(None, min=1, help="clips per step " + default(FinetuneConfig, "batch_size")),
             lr: float = typer.Option(None, help="AdamW lr of the top block " + default(FinetuneConfig, "lr")),
             head_lr: float = typer.Option(None, help="lr of the linear head [default: --lr]"),
             weight_decay: float = typer.Option(None, help="AdamW weight decay " + default(FinetuneConfig, "weight_decay")),
             warmup_epochs: int = typer.Option(None, min=0, help="linear warm-up " + default(FinetuneConfig, "warmup_epochs")),
             schedule: Schedule = typer.Option(None, help="lr after the warm-up " + default(FinetuneConfig, "schedule")),
             layer_decay: float = typer.Option(None, min=0.0, max=1.0, help="each block gets this times the lr of the one "
                                               "above " + default(FinetuneConfig, "layer_decay")),
             label_smoothing: float = typer.Option(None, min=0.0, max=0.5, help="cross-entropy label smoothing "
                                                   + default(FinetuneConfig, "label_smoothing")),
             drop_path: float = typer.Option(None, min=0.0, max=0.9, help="stochastic depth of the last block "
                                             + default(FinetuneConfig, "drop_path")),
             workers: int = typer.Option(None, min=0, help="loader processes (0: in the main process) "
                                         + default(FinetuneConfig, "workers")),
             out: Path = typer.Option(None, help=EVAL_OUT_HELP),
             random_init: bool = typer.Option(False, "--random-init", help="train from scratch (the baseline; needs --out)"),
             preset: Preset = typer.Option(None, help="with --random-init [default: the dataset's pretraining preset]"),
             validation: bool = typer.Option(None, "--validation", help="train without the held-out training subjects "
                                             "and score on them (data_manifests/validation/)")):
    """Fine-tuning: the whole encoder and a linear head on 100 % of the training labels (or from scratch)."""
    from gltr.train.evaluate import random_init_spec
    from gltr.train.finetune import finetune_eval, summarize_finetune
    eval_target(checkpoint, random_init, out)
    results = []
    for s in seed:
        cfg = FinetuneConfig(data=str(data), benchmark=benchmark, seed=s, **given(
            checkpoint=checkpoint and str(checkpoint), epochs=epochs, batch_size=batch_size, lr=lr, head_lr=head_lr,
            weight_decay=weight_decay, warmup_epochs=warmup_epochs, schedule=schedule and schedule.value,
            layer_decay=layer_decay, label_smoothing=label_smoothing, drop_path=drop_path, workers=workers,
            out=out and str(out), validation=validation,
            random_init=random_init_spec(data, benchmark, preset and preset.value, s) if random_init else None))
        r = finetune_eval(cfg)
        say(f"finetune {r['dataset']}/{benchmark} {r['encoder']} on {r['split']} seed {s}: top-1 {r['top1']:.2f}  "
            f"top-5 {r['top5']:.2f} ({r['train_samples']} labelled samples, {cfg.epochs} epochs, final epoch)")
        results.append(r)
    if len(results) > 1:
        m = summarize_finetune(results, cfg)
        say(f"finetune over seeds {m['seeds']}: top-1 {m['top1']:.2f} ± {m['top1_std']:.2f}")


@command()
def report(runs: list[Path] = typer.Argument(..., help="run folders (holding eval/*.json)"),
           out: Path = typer.Option(None, help="also write the table to this file (figures go beside it)"),
           figures: bool = typer.Option(True, help="write accuracy.png and loss-<run>.png [beside --out, else in the first run]")):
    """All evaluation results of the runs as a markdown table beside the paper's numbers, and figures."""
    from gltr.train.report import collect, figures as report_figures, markdown
    rows = collect(runs)
    if not rows:
        fail(f"no evaluation results under {', '.join(map(str, runs))} (eval/*.json)")
    table = markdown(rows)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table)
    say(table, end="")
    if figures:
        written = report_figures(rows, runs, out.parent if out else runs[0])
        say("figures: " + ", ".join(map(str, written)))


@command()
def evidence(data: Path = typer.Option(..., help="prepared dataset the run was pretrained on"),
             run: Path = typer.Option(..., help="pretraining run folder (pretrain.json, checkpoints/)"),
             out: Path = typer.Option(None, help="folder for evidence.json, report.md and the figures "
                                      + default(EvidenceConfig, "out")),
             benchmark: str = typer.Option(None, help=BENCHMARK_HELP + " " + default(EvidenceConfig, "benchmark")),
             semi_seeds: list[int] = typer.Option(None, "--semi-seed", help="repeat; none: --semi-seed -1 "
                                                  + default(EvidenceConfig, "semi_seeds")),
             workers: int = typer.Option(None, min=0, help="loader processes " + default(EvidenceConfig, "workers")),
             semi_runs: bool = typer.Option(None, "--semi-runs/--no-semi-runs",
                                            help="--no-semi-runs: gather the semi-supervised results already done, run none")):
    """Every evaluation of a pretraining run beside its baselines, the probe curve and the semi-supervised table."""
    from gltr.evidence import evidence as run_evidence, semi_text
    seeds = None if semi_seeds is None else tuple(s for s in semi_seeds if s >= 0)
    cfg = EvidenceConfig(data=str(data), run=str(run), **given(
        out=out and str(out), benchmark=benchmark, semi_seeds=seeds, percents=() if seeds == () else None,
        workers=workers, semi_runs=semi_runs))
    out = Path(cfg.out)
    summary = run_evidence(cfg, log=lambda line: tell(line))
    for split in ("test", "validation"):
        for kind in ("linear", "knn"):
            r = summary[split][kind]
            say(f"{split} {kind}: pretrained {r['pretrained']:.1f}  random {r['random']:.1f}  "
                              f"hand-crafted {r['handcrafted']:.1f}")
    if cfg.semi_seeds:
        say(semi_text(summary))
    say(f"-> {out / 'evidence.json'}, {out / 'report.md'}, {out / 'probe_curve.png'}, "
                      f"{out / 'accuracy.png'}")


@command()
def attention(checkpoints: list[Path] = typer.Option(..., "--checkpoint", help="pretrained checkpoint; repeat to compare"),
              data: Path = typer.Option(..., help="prepared dataset"), benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
              samples: int = typer.Option(None, min=1, help="test sequences " + default(AttentionConfig, "samples")),
              frames: int = typer.Option(None, min=1, help="temporal-map frames, at most the model's T_max "
                                         + default(AttentionConfig, "frames")),
              batch_size: int = typer.Option(None, min=1, max=64, help="sequences per forward pass (bounds memory) "
                                             + default(AttentionConfig, "batch_size")),
              workers: int = typer.Option(None, min=0, help="loader processes " + default(AttentionConfig, "workers")),
              out: Path = typer.Option(None, help="folder for attention.json and the PNGs " + default(AttentionConfig, "out"))):
    """The paper's attention analysis: temporal and spatial maps, attended frame distance per head (JSON + PNG)."""
    from gltr.attention import analyse
    cfg = AttentionConfig(checkpoints=tuple(map(str, checkpoints)), data=str(data), benchmark=benchmark,
                          **given(samples=samples, frames=frames, batch_size=batch_size, workers=workers,
                                  out=str(out) if out else None))
    summary = analyse(cfg, log=lambda line: tell(line))
    for e in summary["encoders"]:
        say(f"{e['checkpoint']} (intervals {e['intervals']}): mean attended frame distance "
                          f"{sum(map(sum, e['mean_distance'])) / sum(map(len, e['mean_distance'])):.2f} frames")
    say(f"-> {Path(cfg.out) / 'attention.json'}, " + ", ".join(summary["figures"]))


@command()
def show(data: Path = typer.Argument(..., help="prepared dataset"),
         sample_id: str = typer.Argument(..., help="a sample id from manifest.parquet, e.g. S001C001P001R001A050"),
         out: Path = typer.Option(..., help="FILE.png (contact sheet), FILE.gif or FILE.mp4 (needs ffmpeg)"),
         what: ShowWhat = typer.Option(None, help="joints (camera coordinates) or motion (the normalised model input) "
                                  + default(render_sample, "what")),
         frames: int = typer.Option(None, min=1, help=f"frames on a .png contact sheet, at most {MAX_FRAMES} "
                                    + default(render_sample, "frames")),
         size: str = typer.Option(None, help="WIDTHxHEIGHT in pixels, at most {0}x{0} [default: {1}x{2}]".format(
             MAX_SIDE, *signature(render_sample).parameters["size"].default))):
    """Render one sample: skeleton with its bones, one colour per person, fixed axes, frame counter."""
    try:
        dims = tuple(int(v) for v in size.lower().split("x")) if size else None
        if dims is not None and len(dims) != 2:
            raise ValueError
    except ValueError:
        fail(f"--size must be WIDTHxHEIGHT in pixels, e.g. 960x540, not {size!r}")
    path = render_sample(data, sample_id, out, **given(what=what and what.value, frames=frames, size=dims))
    say(f"-> {path}")


export_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                         help="Write a prepared dataset in the formats other skeleton toolkits read.")
app.add_typer(export_app, name="export")


@command("pyskl", group=export_app)
def export_pyskl(data: Path = typer.Argument(..., help="prepared dataset"),
                 out: Path = typer.Option(..., help="the annotation file to write, e.g. ntu120_3danno.pkl"),
                 overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out that gltr exported")):
    """pyskl / mmaction2 3D skeleton annotations (split + annotations, keypoint [M, T, V, 3]) in one pickle."""
    from gltr.export.pyskl import export_pyskl as run_export
    r = run_export(data, out, overwrite=overwrite)
    say(f"{r['samples']:,} samples -> {r['file']} ({r['bytes'] / 1e6:.1f} MB); splits: "
                      + ", ".join(f"{k} {v:,}" for k, v in r["splits"].items()))


@command("ctrgcn", group=export_app)
def export_ctrgcn(data: Path = typer.Argument(..., help="prepared NTU dataset (ntu60 or ntu120)"),
                  out: Path = typer.Option(..., help="folder for NTU60_CS.npz / NTU60_CV.npz or NTU120_CSub.npz / NTU120_CSet.npz"),
                  raw: Path = typer.Option(None, help="the raw files [default: the folder prepare read, from prepare.json]"),
                  workers: int = typer.Option(None, min=1, help="processes parsing raw files " + default(run_ctrgcn, "workers")),
                  overwrite: bool = typer.Option(False, "--overwrite", help="replace .npz files in --out that gltr exported")):
    """CTR-GCN's .npz files (x float32 [N, T, 150], y one-hot), from the raw files with CTR-GCN's denoising."""
    written = run_ctrgcn(data, out, raw, overwrite=overwrite, **given(workers=workers),
                         log=lambda line: tell(line))
    for name, r in written.items():
        say(f"{out / name}: {r['train']:,} train, {r['test']:,} test, {r['frames']} frames")


@command("mamp", group=export_app)
def export_mamp(data: Path = typer.Argument(..., help="prepared PKU-MMD dataset (pkummd1 or pkummd2)"),
                out: Path = typer.Option(..., help="folder for PKUv1_XSub.npz / PKUv1_XView.npz or PKUv2_XSub.npz / "
                                         "PKUv2_XView.npz"),
                raw: Path = typer.Option(None, help="the raw folder [default: the folder prepare read, from prepare.json]"),
                overwrite: bool = typer.Option(False, "--overwrite", help="replace .npz files in --out that gltr exported")):
    """MAMP's PKU-MMD .npz files (x float32 [N, 300, 150], y one-hot with 51 columns), from the raw sequences."""
    from gltr.export.mamp import export_mamp as run_export
    written = run_export(data, out, raw, overwrite=overwrite, log=lambda line: tell(line))
    for name, r in written.items():
        say(f"{out / name}: {r['train']:,} train, {r['test']:,} test")


@command()
def demo(out: Path = typer.Option(None, help="folder for everything the demo writes (only a folder it made is "
                                  "replaced) " + default(DemoConfig, "out")),
         samples: int = typer.Option(None, min=20, help="synthetic clips " + default(DemoConfig, "samples")),
         classes: int = typer.Option(None, min=2, max=10, help="synthetic classes " + default(DemoConfig, "classes")),
         epochs: int = typer.Option(None, min=1, help="pretraining epochs " + default(DemoConfig, "epochs")),
         probe_epochs: int = typer.Option(None, min=1, help="linear-probe epochs " + default(DemoConfig, "probe_epochs")),
         workers: int = typer.Option(None, min=1, help="prepare processes " + default(DemoConfig, "workers"))):
    """Synthesise -> prepare -> pretrain tiny() -> linear probe (vs random init and hand-crafted) -> results table."""
    from gltr.demo import demo as run_demo
    cfg = DemoConfig(**given(out=out and str(out), samples=samples, classes=classes, epochs=epochs,
                             probe_epochs=probe_epochs, workers=workers))
    out, classes = Path(cfg.out), cfg.classes
    result = run_demo(cfg, log=lambda line: tell(line))
    say(result["table"], end="")
    p, r, h = result["pretrained_top1"], result["random_top1"], result["handcrafted_top1"]
    say(f"pretrained encoder: top-1 {p:.1f}%   random encoder: {r:.1f}%   hand-crafted features: {h:.1f}%   "
                      f"(chance {100 / classes:.1f}%)")
    verdict = (f"MPDP pretraining beats the random encoder by {p - r:.1f} points" if p >= r + 5 else
               f"at this miniature size MPDP pretraining does not beat the random encoder ({p:.1f} vs {r:.1f})")
    say(f"The synthetic classes differ only in how the limbs move, never in a pose; {verdict}. "
                      "For the real-data comparison see docs/results.md, 'Real-data evidence' (make evidence).")
    say(f"table: {out / 'results.md'}; figures: " + ", ".join(map(str, result["figures"])))


def main():
    """`gltr` (its commands handle their own errors: `command`)."""
    app()


if __name__ == "__main__":
    sys.exit(main())
