"""`make bench-scale`: the full-size NTU-120 benchmark anyone can rerun (tens of minutes on 2 cores).

    python -m gltr.bench.scale_bench --out bench [--real ../shared/data] [--work bench/scale_work] [--names N]

1. A raw tree of every NTU-120 sample name in `ntu_available/ntu120_available.txt` (113,945), each a hard
   link to one of the real `.skeleton` files in `ntu_skeleton/` (copied once into the work folder), so the
   tree costs no disk beyond those files. `--names N` takes the first N names (a quick run).
2. Each step as its own process, timed: `gltr prepare` at 1 and 2 workers, `verify`, `inspect`, one
   augmented training epoch of the xsub train split through `ShardLoader` (batch 128) with 0, 1 and 2
   worker processes, `gltr export ctrgcn --workers 2`, `gltr export pyskl`.
3. For each: wall time, CPU time (user + sys of the step's whole process tree), the peak resident memory
   of that tree (workers included; sampled every 0.2 s from /proc), and the disk of what it wrote.
   Written to <out>/scale.json. The free disk is checked first; short of it, nothing runs.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from gltr import records
from gltr.bench import real_default
from gltr.safety import atomic_file

GB = 1 << 30
SHARE_OF_REAL = {"prepare": 0.08, "ctrgcn": 0.2}    # GB written per 1,000 samples (full-size runs, 2026-12)

LOADER = """
import sys, time
from gltr.train.data import LoaderConfig, ShardLoader
loader = ShardLoader(sys.argv[1], "xsub", "train", LoaderConfig(batch_size=128, workers=int(sys.argv[2]),
                     interpolation=True, shear=0.3))
start, n, batches = time.perf_counter(), 0, 0
for batch in loader.epoch(0):
    n += len(batch["key"]); batches += 1
print(n, batches, len(loader), round(time.perf_counter() - start, 2))
"""


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and every descendant, from /proc."""
    children, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))         # field 4: the parent
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")     # field 24: resident pages
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def timed(argv: list, log) -> dict:
    """Run one step; wall, CPU (its whole tree, from RUSAGE_CHILDREN), peak tree RSS; its last output line."""
    log("$ " + " ".join(argv))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            done.wait(0.2)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0,):
        raise RuntimeError(f"{' '.join(argv[:3])} exited {proc.returncode}: {err.strip()[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in out.splitlines() if line.strip()]
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mb": round(peak[0] / 1e6),
            "load_1min_at_end": round(os.getloadavg()[0], 2),     # this step's own load included: > cpus = neighbours
            "last_line": lines[-1][-200:] if lines else ""}


def disk(path: Path) -> int:
    """Bytes of the files under `path` (a hard link counted once per path, as `du -l` would not: these are ours)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_tree(real: Path, raw: Path, limit: int | None) -> int:
    """The raw tree of hard links; returns the number of names."""
    names = (real / "ntu_available" / "ntu120_available.txt").read_text().split()[:limit]
    sources = sorted((real / "ntu_skeleton").glob("*.skeleton"))
    if not sources:
        raise FileNotFoundError(f"no .skeleton files under {real / 'ntu_skeleton'}")
    originals = raw.parent / "originals"
    originals.mkdir(parents=True, exist_ok=True)
    copies = []
    for s in sources:
        copy = originals / s.name
        if not copy.exists():
            shutil.copyfile(s, copy)
        copies.append(copy)
    raw.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        link = raw / f"{name}.skeleton"
        if not link.exists():
            os.link(copies[i % len(copies)], link)
    return len(names)


def needed_bytes(samples: int) -> int:
    """Disk the run needs at its peak: the prepared dataset and the CTR-GCN export side by side, with a margin."""
    return int(samples / 1000 * (SHARE_OF_REAL["prepare"] + SHARE_OF_REAL["ctrgcn"]) * GB * 1.3) + GB


def run(out: Path, real: Path, work: Path, limit: int | None, log=print) -> dict:
    names = len((real / "ntu_available" / "ntu120_available.txt").read_text().split()[:limit])
    work.mkdir(parents=True, exist_ok=True)
    need, free = needed_bytes(names), shutil.disk_usage(work).free
    if free < need:
        raise SystemExit(f"error: {work}: {free / GB:.1f} GB free, the benchmark needs about {need / GB:.1f} GB "
                         f"(the prepared dataset and the CTR-GCN export side by side); free some or use --work")
    gltr = [sys.executable, "-m", "gltr.cli.main"]
    raw, data = work / "raw", work / "data"
    start = time.perf_counter()
    count = build_tree(real, raw, limit)
    result = {"names": count, "real_files": len(list((real / "ntu_skeleton").glob("*.skeleton"))),
              "tree_s": round(time.perf_counter() - start, 1), "disk_free_gb_before": round(free / GB, 1),
              "cpus": len(os.sched_getaffinity(0)), "nice": os.nice(0), "steps": {}}
    steps = result["steps"]
    for workers in (1, 2):
        shutil.rmtree(data, ignore_errors=True)
        steps[f"prepare_workers{workers}"] = timed(gltr + ["prepare", "ntu120", "--raw", str(raw), "--out", str(data),
                                                           "--workers", str(workers)], log)
    result["prepared"] = records.read(data / "prepare.json", records.PrepareReport).counts
    result["disk_mb"] = {name: round(disk(data / name) / 1e6, 1) for name in ("store.zarr", "shards", "manifest.parquet")}
    steps["verify"] = timed(gltr + ["verify", str(data)], log)
    steps["inspect"] = timed(gltr + ["inspect", str(data)], log)
    for workers in (0, 1, 2):
        step = timed([sys.executable, "-c", LOADER, str(data), str(workers)], log)
        n, batches, promised, seconds = step["last_line"].split()
        steps[f"loader_epoch_workers{workers}"] = {**step, "samples": int(n), "batches": int(batches),
                                                   "batches_promised": int(promised),
                                                   "samples_per_s": round(int(n) / float(seconds), 1)}
    exports = work / "exports"
    shutil.rmtree(exports, ignore_errors=True)
    steps["export_ctrgcn"] = timed(gltr + ["export", "ctrgcn", str(data), "--out", str(exports), "--workers", "2"], log)
    result["disk_mb"]["ctrgcn_npz"] = round(disk(exports) / 1e6, 1)
    shutil.rmtree(exports)
    steps["export_pyskl"] = timed(gltr + ["export", "pyskl", str(data), "--out", str(exports / "ntu120_3danno.pkl")], log)
    result["disk_mb"]["pyskl_pkl"] = round(disk(exports) / 1e6, 1)
    shutil.rmtree(exports)
    result["total_s"] = round(time.perf_counter() - start, 1)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / "scale.json") as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench"))
    parser.add_argument("--real", type=Path, default=real_default())
    parser.add_argument("--work", type=Path, default=Path("bench/scale_work"))
    parser.add_argument("--names", type=int, default=None, help="only the first N names (a quick run)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (raw tree and dataset)")
    args = parser.parse_args()
    result = run(args.out, args.real, args.work, args.names, log=lambda line: print(line, flush=True))
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
