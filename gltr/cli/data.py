"""`gltr prepare`, `verify`, `inspect`, `synth`, `manifests`: the data stage's commands."""
import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from gltr.cli.common import (Bodies, Clip, Dataset, RateColumn, RawKind, Rotation, command, STDERR, default_text, fail,
                             given, STDOUT, print_out, print_err)
from gltr.configs import check_options
from gltr.datasets import DATASETS, PKU_CLIPS, ROTATIONS
from gltr.pipeline.prepare import prepare as run_prepare
from gltr.pipeline.synth import WRITERS, synth_ntu
from gltr.safety import shown


@command()
def prepare(dataset: Dataset = typer.Argument(..., help="which dataset the raw files are (format, classes, splits)"),
            raw: Path = typer.Option(..., help="folder holding the raw files (searched recursively)"),
            out: Path = typer.Option(None, help="output folder [default: ./data/<dataset>]"),
            workers: int = typer.Option(None, help="parallel processes " + default_text(run_prepare, "workers")),
            bodies: Bodies = typer.Option(None, help="body rule, one the dataset accepts [default: " + ", ".join(
                f"{d.body_rules[0]} for {name}" for name, d in DATASETS.items()) + "]"),
            rotation: Rotation = typer.Option(None, help="rotation sign: one per sequence (faithful) or per frame "
                                                       f"[default: {ROTATIONS[0]}]"),
            clip: Clip = typer.Option(None, help="PKU-MMD: an instance's rows, [start:end) as MAMP or [start-1:end) "
                                      f"as AimCLR [default: {PKU_CLIPS[0]}]"),
            shard_size: int = typer.Option(None, help="samples per WebDataset shard " + default_text(run_prepare, "shard_size")),
            overwrite: bool = typer.Option(False, help="replace an existing output folder")):
    """Convert raw skeleton files into a prepared dataset (Zarr store, Parquet manifest, WebDataset shards)."""
    from gltr.datasets import make_variant
    from gltr.pipeline.prepare import check_output, exit_status
    check_options("prepare", workers=workers, shard_size=shard_size)
    out = out or Path("data") / dataset.value
    make_variant(dataset.value, bodies and bodies.value, rotation and rotation.value, clip and clip.value)
    check_output(raw, out, overwrite)                  # options, then the output: refused before a progress bar
    columns = [TextColumn("prepare {task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=STDERR, transient=False) as bar:
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
    print_out(table)
    for name in empty:
        print_err(shown("warning: ", "yellow") + shown(f"split {name} holds no sample: every trainer and evaluation "
                                                   f"refuses it; were files of that split among the raw files?"))
    if report["counts"]["failed"]:
        print_err(shown(f"{report['counts']['failed']} file(s) failed", "red") + shown(f": see {out / 'prepare.json'}"))
    raise typer.Exit(exit_status(report))


@command()
def verify(path: Path = typer.Argument(..., help="prepared dataset folder")):
    """Re-check the sha256 of every file of a prepared dataset."""
    from gltr.pipeline.verify import verify as run_verify
    problems = run_verify(path)
    for p in problems:
        print_err(shown("corrupt ", "red") + shown(f"{path}/{p}"))
    if problems:
        raise typer.Exit(1)
    print_out(f"{path}: all files match prepare.json")


@command()
def inspect(path: Path = typer.Argument(..., help="prepared dataset folder"), as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables")):
    """Counts per split and class, a length histogram and the variant of a prepared dataset."""
    from gltr.pipeline.inspect import summarize
    if not (path / "prepare.json").exists():
        fail(f"{path} is not a prepared dataset (no prepare.json)")
    s = summarize(path)
    if as_json:
        STDOUT.print_json(json.dumps(s))
        return
    v = s["variant"]
    print_out(shown(s['dataset'], "bold") + shown(f"  bodies={v['bodies']} rotation={v['rotation']} "
                      f"centre={v['centre_joint']} intervals={v['intervals']} t_max={v['t_max']}"))
    t = Table(title="samples per split and class")
    t.add_column("split")
    t.add_column("total", justify="right")
    t.add_column("per class (label 0, 1, ...)")
    for name, counts in s["per_class"].items():
        t.add_row(name, str(sum(counts)), " ".join(map(str, counts)))
    print_out(t)
    h = Table(title=f"length (frames): min {s['length']['min']}, mean {s['length']['mean']:.1f}, max {s['length']['max']}")
    h.add_column("frames")
    h.add_column("samples", justify="right")
    h.add_column("")
    peak = max([b["count"] for b in s["length"]["histogram"]] + [1])
    for b in s["length"]["histogram"]:
        h.add_row(f"{b['from']}-{b['to']}", str(b["count"]), "█" * round(30 * b["count"] / peak))
    print_out(h)


@command()
def synth(kind: RawKind = typer.Argument(..., help="raw format to write: NTU .skeleton, NW-UCLA JSON or a PKU-MMD "
                                         "Phase I / II folder (skeleton/, label/, split files)"),
          out: Path = typer.Option(..., help="folder to write the raw files into"),
          samples: int = typer.Option(200, help="number of raw files (PKU-MMD: sequences, each of 3-5 instances)"),
          seed: int = typer.Option(0, help="random seed (the same seed writes the same files)"), classes: int = typer.Option(None, help="NTU: at most 120; NW-UCLA: "
                                                                   "at most 10; PKU-MMD: 51 / 41 " + default_text(synth_ntu, "classes"))):
    """Write synthetic raw files in the genuine NTU `.skeleton` / NW-UCLA JSON / PKU-MMD formats."""
    write = WRITERS[kind.value]
    check_options("synth", samples=samples, seed=seed, classes=classes)
    try:
        paths = write(out, samples, seed=seed, **given(classes=classes))
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--classes")
    print_out(f"wrote {len(paths)} {kind.value} files to {out}")


@command()
def manifests(data: Path = typer.Option(None, help="the folder with ntu_available/ and nw_ucla/ [default: "
                                        "../shared/data]; with --pkummd1/2: the prepared dataset the lists belong "
                                        "to (written to DATA/manifests/semi/, where semi finds them)"),
              out: Path = typer.Option(None, help="the folder to write semi/ and validation/ into (the repository's "
                                       "data_manifests to regenerate the committed lists: `make manifests`); "
                                       "nothing is ever written into the installed package by default"),
              pkummd1: Path = typer.Option(None, help="instead: make PKU-MMD Phase I's lists from this raw folder's "
                                           "label and split files"),
              pkummd2: Path = typer.Option(None, help="instead: the same for Phase II")):
    """Make the semi-supervised and validation sample lists (deterministic), all or none."""
    from gltr.pipeline.sample_lists import generate_pku, pku_root, regenerate
    pku = {name: raw for name, raw in (("pkummd1", pkummd1), ("pkummd2", pkummd2)) if raw is not None}
    if len(pku) > 1:
        raise ValueError("--pkummd1 and --pkummd2: one at a time, each phase's lists belong to its own prepared "
                         "dataset")
    if pku:
        (name, raw), = pku.items()
        root = pku_root(name, data, out)
        index = generate_pku(name, raw, root)
        print_out(f"wrote {sum(k.startswith(name + '/') for k in index)} {name} sample lists to {root}")
        return
    if out is None:
        raise ValueError("no --out: the lists are written into an explicit folder, never into the installed "
                         "package (--out data_manifests in a checkout, as `make manifests` does)")
    index, validation = regenerate(data or Path("../shared/data"), out)
    print_out(f"wrote {len(index)} sample lists to {out / 'semi'} and {len(validation)} to {out / 'validation'}")
