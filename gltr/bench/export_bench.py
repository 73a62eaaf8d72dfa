"""`gltr export` at two dataset sizes: peak memory must stay flat in the number of samples.

Raw input: renamed copies of the real NTU files (synthetic ones without ../shared/data), prepared
as NTU-120 with `--bodies denoise`; each export runs in a fresh process that reports its peak RSS.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from gltr.bench.prepare_bench import make_raw

PROBE = r"""
import json, resource, sys, time
from gltr.export.ctrgcn import export_ctrgcn
from gltr.export.pyskl import export_pyskl
start = time.perf_counter()
if sys.argv[1] == "ctrgcn":
    export_ctrgcn(sys.argv[2], sys.argv[3], workers=int(sys.argv[4]), log=lambda line: None)
else:
    export_pyskl(sys.argv[2], sys.argv[3] + "/anno.pkl")
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def probe(kind: str, data: Path, target: Path, workers: int = 1) -> dict:
    """One export into the new folder `target`, in a fresh process: {"seconds", "peak_rss_mb"}."""
    target.mkdir()
    return json.loads(subprocess.run([sys.executable, "-c", PROBE, kind, str(data), str(target), str(workers)],
                                     capture_output=True, text=True, check=True).stdout)


def run(out: Path, real: Path) -> dict:
    from gltr.pipeline.prepare import prepare
    work = out / "export_work"
    shutil.rmtree(work, ignore_errors=True)
    result = {}
    for copies in (10, 40):
        files = make_raw(work / f"raw{copies}", copies, real)
        prepare("ntu120", work / f"raw{copies}", work / f"data{copies}", bodies="denoise", log=lambda line: None)
        for kind in ("ctrgcn", "pyskl"):
            r = probe(kind, work / f"data{copies}", work / f"{kind}{copies}")
            size = sum(p.stat().st_size for p in (work / f"{kind}{copies}").iterdir())
            result[f"{kind}_{len(files)}_samples"] = {"samples": len(files), "seconds": round(r["seconds"], 2),
                                                      "peak_rss_mb": round(r["peak_rss_mb"], 1),
                                                      "output_mb": round(size / 1e6, 1)}
    # the larger ctrgcn export again with raw files parsed in 2 worker processes (same run, same files)
    large = result[f"ctrgcn_{len(files)}_samples"]
    r = probe("ctrgcn", work / "data40", work / "ctrgcn_workers", workers=2)
    result["ctrgcn_2_workers"] = {"samples": large["samples"], "seconds": round(r["seconds"], 2),
                                  "samples_per_s_per_pass": round(3 * large["samples"] / r["seconds"], 1),
                                  "speedup_vs_1_worker": round(large["seconds"] / r["seconds"], 2)}
    large["samples_per_s_per_pass"] = round(3 * large["samples"] / large["seconds"], 1)
    for kind in ("ctrgcn", "pyskl"):
        small, large = (v for k, v in result.items() if k.startswith(f"{kind}_") and k.endswith("_samples"))
        result[f"{kind}_peak_rss_ratio_large_vs_small"] = round(large["peak_rss_mb"] / small["peak_rss_mb"], 2)
        result[f"{kind}_output_ratio_large_vs_small"] = round(large["output_mb"] / small["output_mb"], 2)
    shutil.rmtree(work, ignore_errors=True)
    result["note"] = ("ctrgcn parses every raw file once per pass (3 passes for 2 benchmarks: the longest clip, then each "
                      "file); ctrgcn streams each .npy member into the .npz one sample at a time (flat memory); pyskl builds "
                      "its one pickle in memory, as pyskl itself holds it when loading (memory grows with the output)")
    return result
