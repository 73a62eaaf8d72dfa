"""What `make fuzz` fuzzes (gltr/bench/fuzz.py runs it): the unmutated inputs of every reader (`seeds`), and per
kind one example for the mutation parameters (pick, op, at, choice, extra) (`example`).

The raw-file, index and tar kinds run in this process under a SIGALRM deadline; the CLI and checkpoint kinds
(gltr/bench/fuzz_commands.py) run each example in a forked child, on a tiny prepared NW-UCLA set, a tiny PKU-MMD Phase II set, a tiny NTU-60 set and a
two-step tiny() pretraining run with its evaluations, all made once by `seeds`.
"""
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from gltr.bench.fuzz import ADVERSARIAL, OPS, bounded, mutate
from gltr.bench.fuzz_commands import (CHECKPOINT_GRID, LAST, OPTION_GRID, cli_ok, example_checkpoint, example_eval_json,
                                     example_options, example_prepare_json)

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


# ----------------------------------------------------------------------------- inputs

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
