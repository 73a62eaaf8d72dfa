"""Whole-`prepare` throughput against an official-style reader, in one run.

Each timing is the best of two runs (this machine is noisy). Raw input: copies of the real NTU files in ../shared/data/ntu_skeleton under distinct names
(synthetic NTU files when the real ones are absent), at two sizes to show that peak memory
does not grow with the file count.
"""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path


from gltr.bench.official_style import read_xyz

RSS_PROBE = r"""
import json, resource, sys, time
from gltr.pipeline.prepare import prepare
start, cpu = time.perf_counter(), time.process_time()
report = prepare("ntu120", sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), overwrite=True, log=lambda l: None)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "prepared": report["counts"]["prepared"],
                  "peak_rss_mb": max(self_rss, child_rss) / 1024, "main_rss_mb": self_rss / 1024}))
"""


def make_raw(folder: Path, copies: int, real: Path) -> list[Path]:
    """copies x the real files (renamed by replication number), or synthetic files if none."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((real / "ntu_skeleton").glob("*.skeleton")) if real.is_dir() else []
    if not sources:
        from gltr.pipeline.synth import synth_ntu
        return synth_ntu(folder, 21 * copies, seed=0, classes=20)
    paths = []
    for r in range(copies):
        for src in sources:
            name = src.stem
            dst = folder / f"{name[:12]}R{100 + r:03d}{name[16:]}.skeleton"
            shutil.copy(src, dst)
            paths.append(dst)
    return paths


def run(out: Path, real: Path) -> dict:
    work = out / "prepare_work"
    shutil.rmtree(work, ignore_errors=True)
    sizes = {}
    for copies in (10, 40):
        files = make_raw(work / f"raw{copies}", copies, real)
        sizes[copies] = files
    files = sizes[40]            # throughput on the larger set: fixed start-up costs matter less
    megabytes = sum(p.stat().st_size for p in files) / 1e6

    # Official-style parse only (no selection, normalisation, labels or writing); best of 2.
    baseline_s = baseline_cpu = float("inf")
    for _ in range(2):
        start, cpu = time.perf_counter(), time.process_time()
        for p in files:
            read_xyz(p)
        baseline_s = min(baseline_s, time.perf_counter() - start)
        baseline_cpu = min(baseline_cpu, time.process_time() - cpu)

    results = {}
    for copies, files_n in sizes.items():
        for workers in (1, 2):
            runs = [json.loads(subprocess.run(
                [sys.executable, "-c", RSS_PROBE, str(work / f"raw{copies}"), str(work / f"out{copies}_{workers}"),
                 str(workers)], capture_output=True, text=True, check=True).stdout) for _ in range(2)]
            r = {"seconds": min(x["seconds"] for x in runs), "cpu_seconds": min(x["cpu_seconds"] for x in runs),
                 "peak_rss_mb": max(x["peak_rss_mb"] for x in runs)}
            mb = sum(p.stat().st_size for p in files_n) / 1e6
            results[f"{len(files_n)}_files_workers{workers}"] = {
                "files": len(files_n), "workers": workers, "files_per_s": round(len(files_n) / r["seconds"], 1),
                "mb_per_s": round(mb / r["seconds"], 2), "peak_rss_mb": round(r["peak_rss_mb"], 1),
                "main_process_cpu_s": round(r["cpu_seconds"], 3)}
    small, large = len(sizes[10]), len(sizes[40])
    base_fps = len(files) / baseline_s
    one = results[f"{large}_files_workers1"]["files_per_s"]
    two = results[f"{large}_files_workers2"]["files_per_s"]
    summary = {
        "input": "real NTU files, renamed copies" if real.is_dir() else "synthetic NTU files",
        "official_style_parse_only": {"files": len(files), "files_per_s": round(base_fps, 1),
                                      "mb_per_s": round(megabytes / baseline_s, 2)},
        "prepare": results,
        "ratio_prepare_1worker_vs_official_parse": round(one / base_fps, 2),
        "ratio_prepare_1worker_vs_official_parse_cpu_time": round(
            baseline_cpu / results[f"{large}_files_workers1"]["main_process_cpu_s"], 2),
        "ratio_prepare_2workers_vs_1worker": round(two / one, 2),
        "peak_rss_ratio_large_vs_small": round(results[f"{large}_files_workers1"]["peak_rss_mb"]
                                               / results[f"{small}_files_workers1"]["peak_rss_mb"], 3),
        "targets": {"ratio_prepare_1worker_vs_official_parse": ">= 1.5", "ratio_prepare_2workers_vs_1worker": "near 2",
                    "peak_rss_mb": "< 1024, flat as files grow"},
    }
    shutil.rmtree(work, ignore_errors=True)
    return summary
