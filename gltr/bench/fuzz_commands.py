"""The command-line kinds of `make fuzz` (gltr/bench/fuzz_targets.py dispatches to them): prepare.json and a
run's evaluation JSONs read by every command that reads them, checkpoint meta with a correct digest, and the
numeric options of every command. Each example runs in a forked child (fuzz.isolated) through typer's CliRunner
against gltr.cli.main's app, as `gltr ...` would."""
import json
import shutil
from pathlib import Path

from gltr.bench.fuzz import cli_outcome, isolated, mutate, mutate_json

LAST = {"what": ""}                  # what the last example did, for the failure list
SEED_DEADLINE_S = 300.0


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


def cli_ok(args: list) -> None:
    """Run a seed-making command (in a child, as examples run) and insist that it works."""
    outcome, message = isolated(run_cli, [str(a) for a in args], deadline=SEED_DEADLINE_S)
    if outcome != "ok":
        raise RuntimeError(f"fuzz seeds: gltr {' '.join(map(str, args))}: {outcome}: {message}")
