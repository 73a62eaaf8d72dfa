"""What `make fuzz` fuzzes (gltr/bench/fuzz.py runs it): the unmutated inputs of every reader (`seeds`), and per
kind one example for the mutation parameters (pick, op, at, choice, extra) (`example`).

The raw-file, index and tar kinds run in this process under a SIGALRM deadline; the CLI and checkpoint kinds
run each example in a forked child (fuzz.isolated) through typer's CliRunner against gltr.cli.main's app, as
`gltr ...` would, on a tiny prepared NW-UCLA set, a tiny PKU-MMD Phase II set, a tiny NTU-60 set and a
two-step tiny() pretraining run with its evaluations, all made once by `seeds`.
"""
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from gltr.bench.fuzz import ADVERSARIAL, OPS, bounded, cli_outcome, isolated, mutate, mutate_json

LAST = {"what": ""}                  # what the last example did, for the failure list
SEED_DEADLINE_S = 300.0
MAX_INSTANCES = 16                   # PKU-MMD instances read per example


# ----------------------------------------------------------------------------- raw files (ntu, nwucla, pku)

def check_raw(kind: str, data: bytes, folder: Path, name: str):
    """Prepare one mutated raw file as `prepare` does: a Sample with finite arrays, or a SampleError."""
    from gltr.datasets import make_variant
    from gltr.datasets import UCLA_ACTIONS
    from gltr.pipeline.names import parse_ucla_name
    from gltr.pipeline.sample import SampleError, read_ntu, read_ucla
    path = folder / name
    path.write_bytes(data)
    try:
        if kind == "ntu":
            sample = read_ntu(path, make_variant("ntu120"))
        else:
            sample = read_ucla(path, make_variant("nwucla"), UCLA_ACTIONS.index(parse_ucla_name(path.stem)["action"]))
    except SampleError as e:
        return ("refused", str(e)) if len(str(e).splitlines()) <= 1 else ("crash", f"multi-line reason: {e}")
    if not (np.isfinite(sample.motion).all() and np.isfinite(sample.joints).all()):
        return "non_finite", "a prepared sample holds a non-finite value"
    return "ok", ""


def check_pku(raw: Path, name: str, skeleton: bytes, labels: bytes, split: bytes, clip: str):
    """One PKU-MMD Phase II raw folder (one sequence, its label file, both split files) through discovery and
    the instance reader, as `prepare pkummd2` runs them: every failure a one-line reason, samples finite."""
    from gltr.datasets import make_variant
    from gltr.pipeline import pku
    from gltr.pipeline.sample import SampleError, read_pku
    for sub in ("skeleton", "label"):
        shutil.rmtree(raw / sub, ignore_errors=True)
        (raw / sub).mkdir(parents=True)
    (raw / "skeleton" / f"{name}.txt").write_bytes(skeleton)
    (raw / "label" / f"{name}.txt").write_bytes(labels)
    (raw / "cross_subject_v2.txt").write_bytes(split)
    (raw / "cross_view_v2.txt").write_bytes(split)
    pku._last.update(path=None)                        # the parse cache is keyed by path: this file is new
    found = pku.discover_pku("pkummd2", raw, 41, ("xsub", "xview"), log=lambda line: None)
    reasons = [f["reason"] for f in found.failed]
    prepared = 0
    for task in found.tasks[:MAX_INSTANCES]:
        try:
            sample = read_pku(task.path, make_variant("pkummd2", clip=clip), task.fields)
        except SampleError as e:
            reasons.append(str(e))
            continue
        except OSError as e:
            reasons.append(f"cannot read: {e.strerror or e}")
            continue
        except Exception as e:                             # prepare reports it as "unexpected ...": a bug
            return "crash", f"unexpected {type(e).__name__}: {str(e)[:200]}"
        if not (np.isfinite(sample.motion).all() and np.isfinite(sample.joints).all()):
            return "non_finite", "a prepared instance holds a non-finite value"
        prepared += 1
    if any(len(str(r).splitlines()) != 1 for r in reasons):
        return "crash", f"multi-line reason: {next(r for r in reasons if len(str(r).splitlines()) != 1)!r}"[:300]
    if prepared:
        return "ok", ""
    return "refused", reasons[0] if reasons else "no instance in the label file"


# ----------------------------------------------------------------------------- shard index and tar shards

def check_loader(data: Path, benchmark: str):
    """One epoch of the loader over `data`: valid batches, or an expected error."""
    from gltr.train.data import LoaderConfig, ShardLoader
    loader = ShardLoader(data, benchmark, "train", LoaderConfig(batch_size=8, workers=0, shuffle=False))
    classes = loader.index["num_classes"]
    for batch in loader.epoch(0):
        if not np.isfinite(batch["motion"].numpy()).all():
            return "non_finite", "a batch holds a non-finite value"
        if not ((batch["label"] >= 0) & (batch["label"] < classes)).all():
            return "crash", "a label out of range reached a batch"
    return "ok", ""


def set_field(index: dict, where: int, value_choice: int, delete: bool) -> dict:
    """A copy of `index` with one field (of the top level or of a shard) set to an adversarial value or deleted."""
    index = json.loads(json.dumps(index))
    targets = [(index, k) for k in index] + [(s, k) for s in index["shards"] for k in s]
    holder, key = targets[where % len(targets)]
    if delete:
        del holder[key]
    else:
        holder[key] = ADVERSARIAL[value_choice % len(ADVERSARIAL)]
    return index


def fresh_copy(good: Path, folder: Path) -> Path:
    data = folder / "data"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(good, data)
    return data


def check_index(good: Path, folder: Path, index_text: bytes, benchmark: str):
    data = fresh_copy(good, folder)
    (data / "shards" / benchmark / "train.json").write_bytes(index_text)
    return check_loader(data, benchmark)


def check_tar(good: Path, folder: Path, shard_bytes: bytes, benchmark: str):
    data = fresh_copy(good, folder)
    path = data / "shards" / benchmark / "train.json"
    index = json.loads(path.read_text())
    shard = index["shards"][0]
    (data / "shards" / benchmark / shard["name"]).write_bytes(shard_bytes)
    shard.update(bytes=len(shard_bytes), sha256=hashlib.sha256(shard_bytes).hexdigest())
    path.write_text(json.dumps(index))
    return check_loader(data, benchmark)


# ----------------------------------------------------------------------------- the command line

def run_cli(args: list, report_lines: str | None = None):
    """(outcome, message) of `gltr ARGS` run in this process (call it in a forked child), one torch thread
    (GLTR_THREADS=1; --threads overrides it). `report_lines`: the prefix of stderr lines that are the command's
    normal report on exit 1 (verify's "corrupt ...")."""
    from typer.testing import CliRunner
    from gltr.cli.main import app
    r = CliRunner().invoke(app, [str(a) for a in args], env={"GLTR_THREADS": "1", "GLTR_DEBUG": None})
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    if report_lines and r.exit_code == 1 and lines and all(line.startswith(report_lines) for line in lines):
        return "refused", lines[0][:300]
    return cli_outcome(r.exit_code, r.stdout, r.stderr, r.exception)


def fill(template: str, **paths) -> list:
    """A command line from a template split on spaces, each {D}, {C}, ... replaced by its path."""
    args = template.split()
    for key, value in paths.items():
        args = [a.replace("{" + key + "}", str(value)) for a in args]
    return args


def example_folder(folder: Path) -> Path:
    ex = folder / "ex"
    if ex.exists():
        shutil.rmtree(ex)
    ex.mkdir(parents=True)
    return ex


# prepare_json: (what, dataset, command) — every command that reads a prepared dataset's prepare.json
PREPARE_READERS = [("inspect", "ucla", "inspect {D}"), ("inspect --json", "ucla", "inspect {D} --json"),
                   ("verify", "ucla", "verify {D}"), ("export pyskl", "ucla", "export pyskl {D} --out {X}/a.pkl"),
                   ("export mamp", "pku", "export mamp {D} --out {X}/mamp"),
                   ("export ctrgcn", "ntu", "export ctrgcn {D} --out {X}/ctrgcn"),
                   ("knn handcrafted", "ucla", "knn --features handcrafted --data {D} --benchmark view --workers 0 "
                                               "--out {X}/knn")]


def example_prepare_json(inputs: dict, folder: Path, params: tuple):
    what, dataset, template = PREPARE_READERS[params[0] % len(PREPARE_READERS)]
    data = inputs["pj"][dataset]
    original = (data / "prepare.json").read_bytes()
    text, how = mutate_json(original, (params[0] // len(PREPARE_READERS),) + params[1:])
    LAST["what"] = f"prepare.json of a {dataset} set: {how}; then gltr {template.replace('{D}', 'DATA').replace('{X}', 'TMP')}"
    try:
        (data / "prepare.json").write_bytes(text)
        args = fill(template, D=data, X=example_folder(folder))
        return isolated(run_cli, args, "corrupt " if what == "verify" else None)
    finally:
        (data / "prepare.json").write_bytes(original)


def example_eval_json(inputs: dict, folder: Path, params: tuple):
    run, files = inputs["ej_run"], inputs["ej_files"]
    name = sorted(files)[params[0] % len(files)]
    sub = (params[0] // len(files),) + params[1:]
    if name.endswith(".jsonl"):                                # one record of the lines
        lines = files[name].split(b"\n")
        j = sub[0] % max(1, len(lines) - 1)
        line, how = mutate_json(lines[j], sub) if lines[j].strip() else (mutate(lines[j], *sub[1:4]), "text")
        text, how = b"\n".join(lines[:j] + [line] + lines[j + 1:]), f"line {j + 1}: {how}"
    else:
        text, how = mutate_json(files[name], sub)
    figures = (params[3] >> 8) % 8 == 0                        # the figures (matplotlib) are slow: one in eight
    template = "report {R} --out {X}/report.md" + ("" if figures else " --no-figures")
    LAST["what"] = f"{name} of a run: {how}; then gltr {template.replace('{R}', 'RUN').replace('{X}', 'TMP')}"
    try:
        (run / name).write_bytes(text)
        return isolated(run_cli, fill(template, R=run, X=example_folder(folder)))
    finally:
        (run / name).write_bytes(files[name])


# ----------------------------------------------------------------------------- checkpoints

DELETE = "<deleted>"
CHECKPOINT_VALUES = [0, -1, -4, 200000, 10 ** 12, 2 ** 63, "8", 8.0, 8.5, None, [], {}, True, float("nan"),
                     float("inf"), 1e308, "../../evil; id", [0], [-1], [10 ** 9], DELETE]
MODEL_FIELDS = ("persons", "joints", "centre", "t_max", "dim", "depth", "spatial_heads", "temporal_heads",
                "ffn_ratio", "dropout", "drop_path", "pos_init", "init", "intervals")
CHECKPOINT_TARGETS = [("model_config", f) for f in MODEL_FIELDS] + [("model_config",), ("variant",), ("contents",),
                                                                    ("epoch",), ("state_sha256",)]
CHECKPOINT_GRID = [(t, v) for t in CHECKPOINT_TARGETS for v in range(len(CHECKPOINT_VALUES))]


def write_checkpoint(state: dict, meta: dict, target: tuple, value, pt: Path) -> None:
    """`state` with `meta` changed at `target` and its digest recomputed (state_sha256 over the state without
    "meta"), saved to `pt` with a matching mirror JSON: what an attacker who controls the file can write."""
    import torch
    from gltr.pipeline.store import sha256_file
    from gltr.train.checkpoint import state_digest
    meta = json.loads(json.dumps(meta))
    meta["state_sha256"] = state_digest(state)
    holder = meta
    for k in target[:-1]:
        holder = holder[k]
    if value == DELETE:
        holder.pop(target[-1], None)
    else:
        holder[target[-1]] = value
    pt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**state, "meta": meta}, pt)
    mirror = {**meta, "weights_sha256": sha256_file(pt), "bytes": pt.stat().st_size}
    pt.with_suffix(".json").write_text(json.dumps(mirror))


def check_checkpoint(pt: Path, data: Path):
    """Load `pt` as an evaluation does (load_encoder, check_compatible), run one forward pass; an error counts
    as the CLI's error handler would show it (exit 3, a bug, is a crash)."""
    import torch
    from gltr.cli.common import error_line
    from gltr.train.downstream import check_compatible, load_encoder
    from gltr.train.prepared import read_index
    try:
        model, meta = load_encoder(pt, "cpu")
        index = read_index(data, "view", "train")
        check_compatible(meta, index)
        v = index["variant"]
        T = min(4, v.t_max)
        with torch.no_grad():
            z = model.eval().forward_encoder(torch.randn(1, T, v.persons, v.joints, 3),
                                             torch.ones(1, T, dtype=torch.bool))
    except Exception as e:                                                   # noqa: BLE001 (counted, not hidden)
        line, code = error_line(e)
        return ("crash" if code == 3 else "refused"), line[:300]
    return ("ok", "") if torch.isfinite(z).all() else ("non_finite", "the encoder's output is not finite")


def example_checkpoint(inputs: dict, folder: Path, params: tuple):
    i = params[0] % len(CHECKPOINT_GRID)
    target, v = CHECKPOINT_GRID[i]
    value = CHECKPOINT_VALUES[v]
    ex = example_folder(folder)
    pt = ex / "checkpoints" / "latest.pt"
    write_checkpoint(inputs["state"], inputs["meta"], target, value, pt)
    via_cli = i % 3 == 0
    LAST["what"] = (f"checkpoint meta {'.'.join(target)} = {value!r}, digest recomputed; then "
                    + ("gltr knn --checkpoint CKPT --data UCLA --benchmark view --out TMP" if via_cli else
                       "load_encoder + check_compatible + forward"))
    if via_cli:
        return isolated(run_cli, fill("knn --checkpoint {C} --data {D} --benchmark view --workers 0 --out {X}/knn",
                                      C=pt, D=inputs["prepared"], X=ex))
    return isolated(check_checkpoint, pt, inputs["prepared"])


# ----------------------------------------------------------------------------- numeric options

# command: (base command line with a tiny budget, the numeric options tried); {D} a prepared NW-UCLA set,
# {C} a tiny() checkpoint, {R} NW-UCLA raw files, {N} a prepared NTU-60 set, {S} a sample id, {X} a fresh folder
OPTION_COMMANDS = {
    "pretrain": ("pretrain --data {D} --benchmark view --preset tiny --epochs 1 --max-steps 2 --batch-size 8 "
                 "--workers 0 --out {X}/run", "--epochs --batch-size --lr --weight-decay --lr-decay --warmup-epochs "
                 "--workers --seed --save-every --max-steps --time-budget-min --intervals"),
    "linear": ("linear --checkpoint {C} --data {D} --benchmark view --epochs 1 --workers 0 --out {X}",
               "--epochs --batch-size --lr --seed --workers"),
    "knn": ("knn --checkpoint {C} --data {D} --benchmark view --workers 0 --out {X}", "--k --workers"),
    "knn --random-init": ("knn --random-init --preset tiny --data {D} --benchmark view --workers 0 --out {X}",
                          "--seed"),
    "semi": ("semi --checkpoint {C} --data {D} --benchmark view --percent 5 --epochs 1 --workers 0 --out {X}",
             "--percent --seed --epochs --batch-size --lr --head-lr --workers"),
    "finetune": ("finetune --checkpoint {C} --data {D} --benchmark view --epochs 1 --workers 0 --out {X}",
                 "--seed --epochs --batch-size --lr --head-lr --weight-decay --warmup-epochs --layer-decay "
                 "--label-smoothing --drop-path --workers"),
    "attention": ("attention --checkpoint {C} --data {D} --benchmark view --samples 2 --workers 0 --out {X}",
                  "--samples --frames --batch-size --workers"),
    "synth": ("synth nwucla --out {X}/raw --samples 4", "--samples --seed --classes"),
    "prepare": ("prepare nwucla --raw {R} --out {X}/prepared --workers 1", "--workers --shard-size"),
    "model": ("model --preset tiny --json", "--frames"),
    "show": ("show {D} {S} --out {X}/show.png --frames 2", "--frames"),
    "export ctrgcn": ("export ctrgcn {N} --out {X}/ctrgcn", "--workers"),
    "gltr --threads": ("--threads 1 knn --checkpoint {C} --data {D} --benchmark view --workers 0 --out {X}",
                       "--threads"),
}
OPTION_VALUES = ["0", "-4", "99999999999999999999", "1e308", "nan", "inf", "-0", "", "1_0", "\u0661\u0660", "3.5",
                 "1", "-1e308", "0x10"]
OPTION_GRID = [(command, option, value) for command, (_, options) in OPTION_COMMANDS.items()
               for option in options.split() for value in OPTION_VALUES]


def option_args(command: str, option: str, value: str, **paths) -> list:
    """The base command line of `command` with `option` set to `value` (replaced where the base gives it)."""
    args = fill(OPTION_COMMANDS[command][0], **paths)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return args


def example_options(inputs: dict, folder: Path, params: tuple):
    command, option, value = OPTION_GRID[params[0] % len(OPTION_GRID)]
    p = inputs["paths"]
    LAST["what"] = "gltr " + " ".join(option_args(command, option, repr(value) if value in ("", "\u0661\u0660") else
                                                  value, D="DATA", C="CKPT", R="RAW", N="NTU", S="SAMPLE", X="TMP"))
    return isolated(run_cli, option_args(command, option, value, **p, X=example_folder(folder)))


# ----------------------------------------------------------------------------- inputs

def cli_ok(args: list) -> None:
    """Run a seed-making command (in a child, as examples run) and insist that it works."""
    outcome, message = isolated(run_cli, [str(a) for a in args], deadline=SEED_DEADLINE_S)
    if outcome != "ok":
        raise RuntimeError(f"fuzz seeds: gltr {' '.join(map(str, args))}: {outcome}: {message}")


def seeds(real: Path, work: Path, kinds: tuple = ()) -> dict:
    """Unmutated inputs per kind: raw files (real when available), a small prepared NW-UCLA set, and for the
    command-line kinds the sets, run and checkpoint they read."""
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.synth import synth_ntu, synth_nwucla, synth_pku
    kinds = set(kinds or ("ntu", "nwucla", "pku", "index", "tar", "prepare_json", "eval_json", "checkpoint",
                          "options"))
    quiet = dict(log=lambda line: None)
    ntu = sorted((real / "ntu_skeleton").glob("*.skeleton"))[:8] if (real / "ntu_skeleton").is_dir() else []
    ntu = ntu or synth_ntu(work / "synth_ntu", 4, seed=0, classes=4)
    ucla = sorted((real / "nw_ucla" / "all_sqe").glob("*.json"))[:8] if (real / "nw_ucla").is_dir() else []
    ucla = ucla or synth_nwucla(work / "synth_ucla", 4, seed=0, classes=4)
    synth_nwucla(work / "raw_small", 24, seed=1, classes=3)
    prepare("nwucla", work / "raw_small", work / "prepared", shard_size=8, **quiet)
    shard = sorted((work / "prepared" / "shards" / "view").glob("train-*.tar"))[0]
    inputs = {"ntu": [(p.name, p.read_bytes()) for p in ntu], "nwucla": [(p.name, p.read_bytes()) for p in ucla],
              "prepared": work / "prepared", "index": (work / "prepared/shards/view/train.json").read_bytes(),
              "shard": shard.read_bytes()}
    synth_pku(work / "synth_pku", 3, seed=0, classes=6, lengths=(20, 50))
    sequences = [(p.stem, p.read_bytes(), (work / "synth_pku" / "label" / p.name).read_bytes())
                 for p in sorted((work / "synth_pku" / "skeleton").glob("*.txt"))]
    real_pku = real / "pku_mmd" / "v2" / "skeleton" / "A10N08-L.txt"
    if real_pku.is_file():                # its label file is not public: instances of the real file's length
        sequences.append(("A10N08-L", real_pku.read_bytes(), b"1,10,120,1\n 5,130,300,2\n 12,400,560,1\n 41,600,1000,2\n"))
    names = ", ".join(name for name, _, _ in sequences[::2])
    inputs["pku"] = {"sequences": sequences, "split": f"Training videos: \n{names}\nValidataion videos: \n".encode()}
    if not kinds & {"prepare_json", "eval_json", "checkpoint", "options"}:
        return inputs
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401  (imported once here, not in every forked example)
    import gltr.cli.main  # noqa: F401
    import gltr.analysis.attention, gltr.export.ctrgcn, gltr.export.mamp, gltr.export.pyskl  # noqa: F401,E401
    import gltr.train.evaluate, gltr.train.finetune, gltr.train.pretrain  # noqa: F401,E401
    synth_ntu(work / "raw_ntu", 12, seed=0, classes=3)
    prepare("ntu60", work / "raw_ntu", work / "ntu", shard_size=8, **quiet)
    prepare("pkummd2", work / "synth_pku", work / "pku", shard_size=8, **quiet)
    inputs["pj"] = {"ucla": work / "pj_ucla", "pku": work / "pku", "ntu": work / "ntu"}
    shutil.copytree(work / "prepared", work / "pj_ucla")
    run, data = work / "run", work / "prepared"
    ckpt = run / "checkpoints" / "latest.pt"
    common = ["--data", data, "--benchmark", "view", "--workers", "0"]
    cli_ok(["pretrain", *common, "--preset", "tiny", "--epochs", "1", "--max-steps", "2", "--batch-size", "8",
            "--out", run])
    cli_ok(["knn", "--checkpoint", ckpt, *common])
    cli_ok(["linear", "--checkpoint", ckpt, *common, "--epochs", "1"])
    cli_ok(["finetune", "--checkpoint", ckpt, *common, "--epochs", "1"])
    cli_ok(["knn", "--random-init", "--preset", "tiny", *common, "--out", run])
    cli_ok(["knn", "--features", "handcrafted", *common, "--out", run])
    inputs["ej_run"] = work / "ej_run"
    (work / "ej_run" / "eval").mkdir(parents=True)
    names = [f"eval/{p.name}" for p in (run / "eval").glob("*.json")] + ["pretrain.json", "metrics.jsonl"]
    inputs["ej_files"] = {n: (run / n).read_bytes() for n in names}
    for n, text in inputs["ej_files"].items():
        (work / "ej_run" / n).write_bytes(text)
    import torch
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    inputs["meta"] = state.pop("meta")
    inputs["state"] = state
    import pyarrow.parquet as pq
    sample = pq.read_table(data / "manifest.parquet", columns=["sample_id"]).column(0)[0].as_py()
    inputs["paths"] = {"D": data, "C": ckpt, "R": work / "raw_small", "N": work / "ntu", "S": sample}
    return inputs


def grid_size(kind: str) -> int:
    """The number of distinct examples of a grid kind (0: not a grid, examples are random)."""
    return {"checkpoint": len(CHECKPOINT_GRID), "options": len(OPTION_GRID)}.get(kind, 0)


def example(kind: str, inputs: dict, folder: Path, params: tuple):
    """(outcome, message) of one example of `kind` for the mutation parameters (pick, op, at, choice, extra);
    LAST["what"] says what it did."""
    pick, op, at, choice, extra = params
    LAST["what"] = ""
    if kind in ("ntu", "nwucla"):
        name, data = inputs[kind][pick % len(inputs[kind])]
        for _ in range(1 + extra % 3):                                       # one to three mutations stacked
            data = mutate(data, op, at, choice)
            op, at, choice = op + 1, (at * 7.31) % 1.0, choice + 3
        LAST["what"] = f"{name} mutated ({1 + extra % 3} x from {OPS[params[1] % len(OPS)]})"
        return bounded(check_raw, kind, data, folder, name)
    if kind == "pku":
        name, skeleton, labels = inputs["pku"]["sequences"][pick % len(inputs["pku"]["sequences"])]
        split = inputs["pku"]["split"]
        target = ("skeleton", "labels", "both", "split")[extra % 4]
        for _ in range(1 + (extra // 4) % 2):
            if target in ("skeleton", "both"):
                skeleton = mutate(skeleton, op, at, choice)
            if target in ("labels", "both"):
                labels = mutate(labels, op + 1, (at * 3.3) % 1.0, choice + 1)
            if target == "split":
                split = mutate(split, op, at, choice)
            op, at, choice = op + 2, (at * 7.31) % 1.0, choice + 3
        clip = ("start:end", "start-1:end")[(extra // 8) % 2]
        LAST["what"] = f"PKU-MMD {name}: {target} mutated from {OPS[params[1] % len(OPS)]}, clip {clip}"
        return bounded(check_pku, folder / "raw", name, skeleton, labels, split, clip)
    if kind == "index":
        good = json.loads(inputs["index"])
        if extra % 3 == 0:
            text = mutate(inputs["index"], op, at, choice)                    # the JSON text itself
        else:
            text = json.dumps(set_field(good, pick, choice, delete=extra % 3 == 2)).encode()
        return bounded(check_index, inputs["prepared"], folder, text, "view")
    if kind == "tar":
        data = inputs["shard"]
        for _ in range(1 + extra % 2):
            data = mutate(data, op if op % len(OPS) != OPS.index("unicode") else 0, at, choice)
            op, at, choice = op + 2, (at * 3.7) % 1.0, choice + 5
        return bounded(check_tar, inputs["prepared"], folder, data, "view")
    return {"prepare_json": example_prepare_json, "eval_json": example_eval_json, "checkpoint": example_checkpoint,
            "options": example_options}[kind](inputs, folder, params)
