"""Fuzzing as a benchmark: random mutations of real and synthetic inputs, and the property each must keep.

    python -m gltr.bench.fuzz --out bench --examples 2500     # `make fuzz`: 4 kinds x 2500 -> bench/fuzz.json

Kinds and properties:
- `ntu`, `nwucla`: a raw .skeleton / JSON file (real ones from ../shared/data when present, else synthetic),
  mutated, is either prepared (finite joints and motion) or fails that one file with a one-line reason
  (SampleError); never another exception, never a hang;
- `index`: a shard index JSON with a field set to an adversarial value (or its text mutated) is either
  accepted, and then the loader yields valid batches, or refused with a one-line error;
- `tar`: a shard's bytes mutated and its index entry rewritten to match (size and sha256, as an attacker
  who controls both would): the loader yields valid batches (finite motion, labels in range) or stops with
  a one-line error.
An "expected" error is a ValueError, OSError or RuntimeError with a one-line message (what the CLI prints
as `error: …`). PKU-MMD files are not fuzzed: gltr does not read them yet.

tests/test_fuzz.py drives the same mutations and checks from hypothesis strategies for a bounded number of
examples in `make test`.
"""
import argparse
import json
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import numpy as np

EXTREMES = [b"1e39", b"-3e38", b"3.4e38", b"nan", b"inf", b"-inf", b"1e-45", b"99999999999999999999", b"-0",
            b"1_000", b"0x10", b"", b"--1", b"1e", b"\xd9\xa0"]
UNICODE = ["\ufeff", "\u0660", "\x00", "\u202e", "\udcff", "\x1b[2J", "é", "\n\n", "\t"]
HUGE = [b"1000000000", b"2147483648", b"18446744073709551616", b"-1", b"0"]
ADVERSARIAL = [10 ** 13, -1, 0, None, "", "../x.tar", "a;b.tar", "train-[0-9].tar", [], {}, 1.5, True, "\u0660.tar",
               2 ** 63, "x" * 300, 1e308, float("nan")]
OPS = ("flip", "truncate", "duplicate_line", "delete_line", "extreme_number", "unicode", "huge_count")
DEADLINE_S = 10.0


class Hang(Exception):
    pass


def mutate(data: bytes, op: int, at: float, choice: int) -> bytes:
    """One mutation of `data`: OPS[op] at relative position `at` (0..1), `choice` picking the replacement."""
    name = OPS[op % len(OPS)]
    if not data:
        return data
    i = min(int(at * len(data)), len(data) - 1)
    if name == "flip":
        return data[:i] + bytes([data[i] ^ (1 + choice % 255)]) + data[i + 1:]
    if name == "truncate":
        return data[:i]
    lines = data.split(b"\n")
    j = min(int(at * len(lines)), len(lines) - 1)
    if name == "duplicate_line":
        return b"\n".join(lines[:j + 1] + [lines[j]] * (1 + choice % 3) + lines[j + 1:])
    if name == "delete_line":
        return b"\n".join(lines[:j] + lines[j + 1:])
    numbers = list(re.finditer(rb"-?\d+(\.\d+)?(e-?\d+)?", data))
    if name == "extreme_number" and numbers:
        m = numbers[min(int(at * len(numbers)), len(numbers) - 1)]
        return data[:m.start()] + EXTREMES[choice % len(EXTREMES)] + data[m.end():]
    if name == "unicode":
        return data[:i] + UNICODE[choice % len(UNICODE)].encode("utf-8", "surrogatepass") + data[i:]
    if name == "huge_count" and numbers:                                      # counts sit early in the file
        m = numbers[min(int(at * min(len(numbers), 8)), len(numbers) - 1)]
        return data[:m.start()] + HUGE[choice % len(HUGE)] + data[m.end():]
    return data[:i] + data[i + 1:]


def expected(e: BaseException) -> bool:
    """An error the CLI turns into one line."""
    return isinstance(e, (ValueError, OSError, RuntimeError)) and len(str(e).strip().splitlines()) <= 1


def _alarm(signum, frame):
    raise Hang()


def bounded(fn, *args):
    """(outcome, message): fn(*args) under the per-example deadline; outcome is "ok", "refused" (an expected
    one-line error), "crash" (anything else), "hang" or "non_finite" (fn's own verdict)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, DEADLINE_S)
    try:
        return fn(*args)
    except Hang:
        return "hang", f"no result within {DEADLINE_S} s"
    except BaseException as e:                                               # noqa: BLE001 (counted, not hidden)
        return ("refused" if expected(e) else "crash"), f"{type(e).__name__}: {str(e)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ----------------------------------------------------------------------------- the checks

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


def check_index(good: Path, folder: Path, index_text: bytes, benchmark: str):
    data = folder / "data"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(good, data)
    (data / "shards" / benchmark / "train.json").write_bytes(index_text)
    return check_loader(data, benchmark)


def check_tar(good: Path, folder: Path, shard_bytes: bytes, benchmark: str):
    import hashlib
    data = folder / "data"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(good, data)
    path = data / "shards" / benchmark / "train.json"
    index = json.loads(path.read_text())
    shard = index["shards"][0]
    (data / "shards" / benchmark / shard["name"]).write_bytes(shard_bytes)
    shard.update(bytes=len(shard_bytes), sha256=hashlib.sha256(shard_bytes).hexdigest())
    path.write_text(json.dumps(index))
    return check_loader(data, benchmark)


# ----------------------------------------------------------------------------- inputs

def seeds(real: Path, work: Path) -> dict:
    """Unmutated inputs per kind: raw files (real when available) and a small prepared NW-UCLA dataset."""
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.synth import synth_ntu, synth_nwucla
    ntu = sorted((real / "ntu_skeleton").glob("*.skeleton"))[:8] if (real / "ntu_skeleton").is_dir() else []
    ntu = ntu or synth_ntu(work / "synth_ntu", 4, seed=0, classes=4)
    ucla = sorted((real / "nw_ucla" / "all_sqe").glob("*.json"))[:8] if (real / "nw_ucla").is_dir() else []
    ucla = ucla or synth_nwucla(work / "synth_ucla", 4, seed=0, classes=4)
    synth_nwucla(work / "raw_small", 24, seed=1, classes=3)
    prepare("nwucla", work / "raw_small", work / "prepared", shard_size=8, log=lambda line: None)
    shard = sorted((work / "prepared" / "shards" / "view").glob("train-*.tar"))[0]
    return {"ntu": [(p.name, p.read_bytes()) for p in ntu], "nwucla": [(p.name, p.read_bytes()) for p in ucla],
            "prepared": work / "prepared", "index": (work / "prepared/shards/view/train.json").read_bytes(),
            "shard": shard.read_bytes()}


def example(kind: str, inputs: dict, folder: Path, params: tuple):
    """(outcome, message) of one example of `kind` for the mutation parameters (pick, op, at, choice, extra)."""
    pick, op, at, choice, extra = params
    if kind in ("ntu", "nwucla"):
        name, data = inputs[kind][pick % len(inputs[kind])]
        for _ in range(1 + extra % 3):                                       # one to three mutations stacked
            data = mutate(data, op, at, choice)
            op, at, choice = op + 1, (at * 7.31) % 1.0, choice + 3
        return bounded(check_raw, kind, data, folder, name)
    if kind == "index":
        good = json.loads(inputs["index"])
        if extra % 3 == 0:
            text = mutate(inputs["index"], op, at, choice)                    # the JSON text itself
        else:
            text = json.dumps(set_field(good, pick, choice, delete=extra % 3 == 2)).encode()
        return bounded(check_index, inputs["prepared"], folder, text, "view")
    data = inputs["shard"]
    for _ in range(1 + extra % 2):
        data = mutate(data, op if op % len(OPS) != OPS.index("unicode") else 0, at, choice)
        op, at, choice = op + 2, (at * 3.7) % 1.0, choice + 5
    return bounded(check_tar, inputs["prepared"], folder, data, "view")


KINDS = ("ntu", "nwucla", "index", "tar")


def run(out: Path, real: Path, examples: int = 2500, seed: int = 0) -> dict:
    """`examples` random examples per kind; counts per outcome, and the first few failures of each kind."""
    import warnings
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(seed)
    result = {"deadline_s": DEADLINE_S, "examples_per_kind": examples, "seed": seed, "kinds": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = seeds(real, work)
        started = time.perf_counter()
        for kind in KINDS:
            counts = {"examples": 0, "ok": 0, "refused": 0, "crashes": 0, "hangs": 0, "non_finite": 0}
            failures = []
            folder = work / f"fuzz_{kind}"
            folder.mkdir()
            for _ in range(examples):
                params = (int(rng.integers(1 << 30)), int(rng.integers(len(OPS))), float(rng.random()),
                          int(rng.integers(1 << 30)), int(rng.integers(1 << 30)))
                outcome, message = example(kind, inputs, folder, params)
                counts["examples"] += 1
                counts[{"crash": "crashes", "hang": "hangs"}.get(outcome, outcome)] += 1
                if outcome in ("crash", "hang", "non_finite") and len(failures) < 10:
                    failures.append({"params": params, "outcome": outcome, "message": message})
            result["kinds"][kind] = {**counts, "failures": failures}
        result["seconds"] = round(time.perf_counter() - started, 1)
    result["pkummd"] = "not fuzzed: gltr does not read PKU-MMD files yet"
    result["total"] = {k: sum(v[k] for v in result["kinds"].values())
                       for k in ("examples", "crashes", "hangs", "non_finite")}
    return result


def main() -> None:
    import os
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench"))
    parser.add_argument("--examples", type=int, default=2500, help="examples per kind (4 kinds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    real = Path(os.environ.get("GLTR_REAL_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
    result = run(args.out, real, args.examples, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fuzz.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["total"]), "->", args.out / "fuzz.json")


if __name__ == "__main__":
    main()
