"""Fuzzing as a benchmark: random mutations of every input gltr reads, and the property each must keep.

    python -m gltr.bench.fuzz --out bench --examples 2500     # `make fuzz`: ~29,000 examples -> bench/fuzz.json
    python -m gltr.bench.fuzz --out /tmp/f --examples 250 --kinds pku,checkpoint     # a tenth, two kinds

Kinds (gltr/bench/fuzz_targets.py) and their share of `--examples N` (WEIGHTS: the cheap in-process kinds
take milliseconds an example, the CLI kinds a tenth of a second to a few seconds):
- `ntu` (2N), `nwucla` (2N): a raw .skeleton / JSON file (real ones from ../shared/data when present, else
  synthetic), mutated, is either prepared (finite joints and motion) or fails that one file with a one-line
  reason (SampleError);
- `pku` (2N): a PKU-MMD Phase II skeleton sequence (the real A10N08-L when present, and synthetic ones), its
  label file and split file, mutated, through discovery and the instance reader prepare uses: the same;
- `index` (2N): a shard index JSON with a field set to an adversarial value (or its text mutated): the loader
  yields valid batches or refuses with a one-line error;
- `tar` (2N): a shard's bytes mutated and its index entry rewritten to match (size and sha256, as an attacker
  who controls both would): the same;
- `prepare_json` (0.8 N): a prepared dataset's prepare.json mutated (text, adversarial values, renamed keys,
  a whole `{}` / `[]` / `null`), read by `gltr inspect [--json]`, `verify`, `export pyskl|mamp|ctrgcn` and
  `knn --features handcrafted`;
- `eval_json` (0.8 N): a run's eval/*.json, pretrain.json or metrics.jsonl mutated, read by `gltr report`;
- `checkpoint` (a grid of meta field x value, at most 0.2 N): a checkpoint whose meta (model_config values,
  its absence, the variant ...) is set to an adversarial value and whose `state_sha256` is recomputed (as an
  attacker controlling the file would), loaded as evaluations load an encoder (`load_encoder`, then
  `check_compatible` and one forward pass) or, every third, by `gltr knn --checkpoint`;
- `options` (a grid of command x numeric option x value, at most 0.4 N): e.g. `--epochs nan`, `--k 1_0`,
  `--threads 99999999999999999999`, on a tiny prepared dataset with a tiny step budget.

Outcomes: "ok"; "refused" (an expected one-line error: a ValueError/OSError/RuntimeError/SampleError with a
one-line message, or a CLI exit 1/2 whose stderr ends with its one `error:` line); "crash" (anything else: a
traceback, exit 3, a multi-line error); "usage_block" (a CLI exit 2 with typer's multi-line usage block
instead of `error: --OPTION: ...`); "hang" (past the deadline); "non_finite" (an accepted output holding
nan/inf). Peak RSS is recorded per example (VmHWM, reset through /proc/self/clear_refs; a forked child's own);
an example over 1 GB, or one refused for memory past the child's 2 GB headroom, is a failure too.
The CLI and checkpoint kinds run each example in a forked child (its own process group, address space
limited, killed with its workers at the deadline or when it starts more than 32 processes).

tests/test_fuzz.py drives the same mutations and checks from hypothesis strategies for a bounded number of
examples in `make test`.
"""
import argparse
import itertools
import json
import os
import re
import resource
import select
import signal
import tempfile
import time
from pathlib import Path

import numpy as np

from gltr.bench import real_default
from gltr.safety import atomic_file

EXTREMES = [b"1e39", b"-3e38", b"3.4e38", b"nan", b"inf", b"-inf", b"1e-45", b"99999999999999999999", b"-0",
            b"1_000", b"0x10", b"", b"--1", b"1e", b"\xd9\xa0"]
UNICODE = ["\ufeff", "\u0660", "\x00", "\u202e", "\udcff", "\x1b[2J", "é", "\n\n", "\t"]
HUGE = [b"1000000000", b"2147483648", b"18446744073709551616", b"-1", b"0"]
ADVERSARIAL = [10 ** 13, -1, 0, None, "", "../x.tar", "a;b.tar", "train-[0-9].tar", [], {}, 1.5, True, "\u0660.tar",
               2 ** 63, "x" * 300, 1e308, float("nan")]
JSON_VALUES = ADVERSARIAL + ["../../evil; id", "-0", "\u0661\u0660", -4, 10 ** 30, float("inf"), -1e308, "8",
                             {"a": 1}, [1, 2], "1_0", "/etc/passwd"]
KEY_NAMES = ["../../evil; id", "", "x" * 300, "\u0660", "a/b", "view\n", ".", "..", "train", "__proto__"]
NUMBER = re.compile(rb"-?\d+(\.\d+)?(e-?\d+)?")
OPS = ("flip", "truncate", "duplicate_line", "delete_line", "extreme_number", "unicode", "huge_count")
DEADLINE_S = 10.0
CHILD_HEADROOM = 2 << 30            # address space a forked example may add
CHILD_PROCESSES = 32                # processes a forked example may start before it is stopped
OVER_MB = 1024
MEMORY = re.compile(r"can't allocate memory|out of memory|Cannot allocate memory|MemoryError|std::bad_alloc")
NONFINITE = re.compile(r"(?<![A-Za-z])(nan|inf|infinity)(?![A-Za-z])", re.IGNORECASE)


class Hang(BaseException):
    """The deadline (a BaseException: reader code that catches Exception does not swallow it)."""


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
    if name == "extreme_number" and (m := NUMBER.search(data, i) or NUMBER.search(data)):   # the number at/after i
        return data[:m.start()] + EXTREMES[choice % len(EXTREMES)] + data[m.end():]
    if name == "unicode":
        return data[:i] + UNICODE[choice % len(UNICODE)].encode("utf-8", "surrogatepass") + data[i:]
    if name == "huge_count" and (first := list(itertools.islice(NUMBER.finditer(data), 8))):   # counts: early
        m = first[min(int(at * len(first)), len(first) - 1)]
        return data[:m.start()] + HUGE[choice % len(HUGE)] + data[m.end():]
    return data[:i] + data[i + 1:]


def json_paths(value, path: tuple = ()) -> list:
    """The path (keys and list indexes) of every value nested in `value`."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    out = []
    for k, v in items:
        out += [path + (k,)] + json_paths(v, path + (k,))
    return out


def mutate_json(text: bytes, params: tuple) -> tuple[bytes, str]:
    """(a JSON document mutated by `params` (pick, op, at, choice, extra), what was done): its text
    (extra % 5 == 0), one value set to an adversarial one (1), deleted (2), a key renamed (3), or the whole
    document replaced (4). Paths come from the first two levels half of the time (the fields read first)."""
    pick, op, at, choice, extra = params
    mode = extra % 5
    if mode == 0:
        return mutate(text, op, at, choice), f"text: {OPS[op % len(OPS)]} at {at:.3f}"
    try:
        doc = json.loads(text)
    except ValueError:
        return mutate(text, op, at, choice), f"text: {OPS[op % len(OPS)]} at {at:.3f}"
    paths = json_paths(doc)
    if (extra // 5) % 2 and any(len(p) <= 2 for p in paths):
        paths = [p for p in paths if len(p) <= 2]
    if mode == 4 or not paths:
        value = [{}, [], None, 0, "x", 1e308, {"": None}][choice % 7]
        return json.dumps(value).encode(), f"the whole document = {value!r}"
    path = paths[pick % len(paths)]
    holder = doc
    for k in path[:-1]:
        holder = holder[k]
    key, where = path[-1], "/".join(map(str, path))
    if mode == 1:
        holder[key] = JSON_VALUES[choice % len(JSON_VALUES)]
        how = f"{where} = {holder[key]!r}"
    elif mode == 2:
        del holder[key]
        how = f"{where} deleted"
    elif isinstance(holder, dict):                                            # rename, keeping the order
        new = KEY_NAMES[choice % len(KEY_NAMES)]
        items = [(new if k == key else k, v) for k, v in holder.items()]
        holder.clear()
        holder.update(items)
        how = f"{where} renamed {new!r}"
    else:
        holder[key] = KEY_NAMES[choice % len(KEY_NAMES)]
        how = f"{where} = {holder[key]!r}"
    return json.dumps(doc).encode(), how[:200]


# ----------------------------------------------------------------------------- outcomes and peak memory

def expected(e: BaseException) -> bool:
    """An error the CLI turns into one line."""
    return isinstance(e, (ValueError, OSError, RuntimeError)) and len(str(e).strip().splitlines()) <= 1


def reset_peak() -> None:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux; elsewhere a no-op)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    """This process's peak RSS (VmHWM) in MB since the last reset; ru_maxrss where /proc is absent."""
    try:
        return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _alarm(signum, frame):
    raise Hang()


def bounded(fn, *args, deadline: float = DEADLINE_S):
    """(outcome, message): fn(*args) in this process under the deadline; outcome is "ok", "refused" (an expected
    one-line error), "crash" (anything else), "hang" or fn's own verdict."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, deadline)
    try:
        return fn(*args)
    except Hang:
        return "hang", f"no result within {deadline} s"
    except BaseException as e:                                               # noqa: BLE001 (counted, not hidden)
        return ("refused" if expected(e) else "crash"), f"{type(e).__name__}: {str(e)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


LAST_CHILD = {"peak_mb": 0.0}        # the peak RSS of the last forked example (run() reads it)


def _group_size(pgid: int) -> int:
    n = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            n += int(stat.rsplit(")", 1)[1].split()[2]) == pgid          # field 5: the process group
    return n


def _child(fn, args, w: int) -> None:
    """The forked side of `isolated`: limits, fn, one JSON line to the parent; never returns."""
    try:
        os.setpgid(0, 0)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0), os.dup2(devnull, 1), os.dup2(devnull, 2)
        size = int(re.search(r"VmSize:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + CHILD_HEADROOM, resource.RLIM_INFINITY))
        reset_peak()
        try:
            outcome, message = fn(*args)
        except BaseException as e:                                           # noqa: BLE001
            outcome, message = ("refused" if expected(e) else "crash"), f"{type(e).__name__}: {str(e)[:300]}"
        os.write(w, json.dumps([outcome, message, peak_mb()]).encode())
    finally:
        os._exit(0)


def isolated(fn, *args, deadline: float = DEADLINE_S):
    """(outcome, message) of fn(*args) run in a forked child: its own process group (killed as a whole at the
    deadline, or when it holds more than CHILD_PROCESSES processes), address space limited to its size at the
    fork plus CHILD_HEADROOM. The child's peak RSS goes to LAST_CHILD."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child(fn, args, w)
    os.close(w)
    started, data, verdict = time.monotonic(), b"", None
    try:
        while True:
            left = deadline - (time.monotonic() - started)
            if left <= 0:
                verdict = ("hang", f"no result within {deadline} s")
                break
            if select.select([r], [], [], min(left, 0.05))[0]:
                chunk = os.read(r, 1 << 16)
                if not chunk:
                    break
                data += chunk
            elif _group_size(pid) > CHILD_PROCESSES:
                verdict = ("crash", f"started more than {CHILD_PROCESSES} processes")
                break
    finally:
        os.close(r)
        try:
            os.killpg(pid, signal.SIGKILL)                                   # the child's leftover workers too
        except (ProcessLookupError, PermissionError):
            pass
        _, status, usage = os.wait4(pid, 0)
    LAST_CHILD["peak_mb"] = usage.ru_maxrss / 1024
    if verdict:
        return verdict
    try:
        outcome, message, peak = json.loads(data)
    except ValueError:
        return "crash", f"the example's process died (wait status {status}) without a result"
    LAST_CHILD["peak_mb"] = peak
    return outcome, message


def cli_outcome(code: int, stdout: str, stderr: str, exception: BaseException | None) -> tuple[str, str]:
    """The outcome of one CLI run: exit 0 = "ok" (or "non_finite" if stdout shows nan/inf); exit 1/2 with one
    final `error:` line = "refused"; typer's usage block = "usage_block"; anything else = "crash"."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if exception is not None and not isinstance(exception, SystemExit):
        return "crash", f"traceback: {type(exception).__name__}: {str(exception)[:200]}"
    if "Traceback (most recent call last)" in stderr:
        return "crash", "traceback: " + (lines[-1][:200] if lines else "")
    if code == 0:
        found = NONFINITE.search(stdout)
        return ("non_finite", f"output holds {found.group(0)!r}") if found else ("ok", "")
    if code == 2 and any(line.startswith("Usage:") for line in lines):
        return "usage_block", next((line.strip("│ ") for line in lines if "Error" in line or "Invalid" in line),
                                   lines[-1])[:200]
    errors = [line for line in lines if line.startswith("error:")]
    if code in (1, 2) and len(errors) == 1 and lines[-1].startswith("error:"):
        return "refused", errors[0][:300]
    what = "internal error" if code == 3 else "multi-line error" if len(errors) == 1 else f"exit {code}"
    return "crash", f"{what}: " + " | ".join(lines[-3:])[:300]


# ----------------------------------------------------------------------------- the run

# examples per kind as a share of --examples; the grid kinds cover their grid at most once
WEIGHTS = {"ntu": 2, "nwucla": 2, "pku": 2, "index": 2, "tar": 2, "prepare_json": 0.8, "eval_json": 0.8,
           "checkpoint": 0.2, "options": 0.4}
KINDS = tuple(WEIGHTS)
FAILURES = ("crash", "hang", "non_finite", "usage_block")
KEYS = {"crash": "crashes", "hang": "hangs", "usage_block": "usage_blocks"}
MAX_FAILURES = 20                   # per kind: the first example of each distinct failure


def signature(outcome: str, memory: bool, message: str) -> str:
    """What makes two failures the same: outcome and message with values, paths and numbers blanked."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|/\S+|-?\d+(\.\d+)?(e[+-]?\d+)?", "_", message)
    return f"{outcome} {memory} {text[:80]}"


def run(out: Path, real: Path, examples: int = 2500, seed: int = 0, kinds: tuple = KINDS, log=print) -> dict:
    """Per kind: examples, counts per outcome, peak RSS (max, median, over 1 GB), seconds, first failures."""
    import warnings
    import torch
    from gltr.bench import fuzz_commands, fuzz_targets
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)                  # one core; and forked examples never inherit a busy thread pool
    rng = np.random.default_rng(seed)
    result = {"deadline_s": DEADLINE_S, "examples": examples, "weights": WEIGHTS, "seed": seed, "kinds": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = fuzz_targets.seeds(real, work, kinds)
        result["seed_seconds"] = round(time.perf_counter() - started, 1)
        result["baseline_rss_mb"] = round(peak_mb(), 1)
        for kind in kinds:
            t0 = time.perf_counter()
            grid = fuzz_targets.grid_size(kind)
            n = max(1, round(examples * WEIGHTS[kind]))
            order = rng.permutation(grid)[:n] if grid else None
            counts = {"examples": 0, "ok": 0, "refused": 0, "crashes": 0, "hangs": 0, "non_finite": 0,
                      "usage_blocks": 0, "over_1gb": 0}
            failures, peaks, extra, signatures = [], [], {}, {}
            folder = work / f"fuzz_{kind}"
            folder.mkdir()
            for i in range(len(order) if grid else n):
                params = (int(rng.integers(1 << 30)), int(rng.integers(len(OPS))), float(rng.random()),
                          int(rng.integers(1 << 30)), int(rng.integers(1 << 30)))
                if grid:
                    params = (int(order[i]),) + params[1:]
                reset_peak()
                LAST_CHILD["peak_mb"] = 0.0
                outcome, message = fuzz_targets.example(kind, inputs, folder, params)
                peak = max(peak_mb(), LAST_CHILD["peak_mb"])
                peaks.append(peak)
                counts["examples"] += 1
                counts[KEYS.get(outcome, outcome)] += 1
                memory = peak > OVER_MB or bool(MEMORY.search(message))
                counts["over_1gb"] += memory
                if outcome in FAILURES or memory:
                    key = signature(outcome, memory, message)
                    signatures[key] = signatures.get(key, 0) + 1
                    if signatures[key] == 1 and len(failures) < MAX_FAILURES:
                        failures.append({"kind": kind, "params": list(params), "what": fuzz_commands.LAST["what"],
                                         "outcome": outcome + (" (memory)" if memory else ""), "message": message,
                                         "peak_mb": round(peak, 1)})
                if kind == "options":                                 # the grid's verdicts, option by option
                    command, option, value = fuzz_commands.OPTION_GRID[params[0]]
                    extra.setdefault(f"{command} {option}", {})[value] = outcome
            entry = {**counts, "peak_rss_mb": {"max": round(max(peaks), 1), "median": round(float(np.median(peaks)), 1)},
                     "seconds": round(time.perf_counter() - t0, 1), "distinct_failures": len(signatures),
                     "failures": failures}
            if grid:
                entry["grid"] = grid
            if extra:
                entry["by_option"] = extra
            result["kinds"][kind] = entry
            log(f"{kind}: " + json.dumps({k: v for k, v in entry.items() if k not in ("failures", "by_option")}))
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["total"] = {k: sum(v[k] for v in result["kinds"].values())
                       for k in ("examples", "ok", "refused", "crashes", "hangs", "non_finite", "usage_blocks", "over_1gb",
                                 "distinct_failures")}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench"))
    parser.add_argument("--examples", type=int, default=2500, help="the scale: each kind runs WEIGHTS[kind] x this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", type=Path, default=real_default(),
                        help="the real-data folder (shared/data) whose files seed the mutations (synthetic ones "
                             "without it) [default: $GLTR_REAL_DATA, else ../shared/data]")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ", ".join(KINDS))
    args = parser.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"unknown kind(s): {', '.join(sorted(unknown))}")
    result = run(args.out, args.real, args.examples, args.seed, kinds)
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_file(args.out / "fuzz.json") as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["total"]), "->", args.out / "fuzz.json")


if __name__ == "__main__":
    from gltr.bench.fuzz import main as module_main      # one module instance: fuzz_targets imports this one
    module_main()
