"""`gltr prepare`: raw skeleton files -> prepared dataset.

    gltr prepare nwucla --raw ../shared/data/nw_ucla --out data/nwucla --workers 2

Output (see docs/dataset.md): store.zarr, manifest.parquet,
shards/<benchmark>/{train,test}-NNNNNN.tar + {train,test}.json, prepare.json.
Everything is written under <out>.partial and renamed to <out> when complete.
"""
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import gltr
from gltr.pipeline.discover import Task
from gltr.datasets import Variant, make_variant
from gltr.pipeline.pku import ALL_ZERO
from gltr.pipeline.parallel import in_order
from gltr.pipeline.sample import SampleError
from gltr.safety import hold_lock
from gltr.pipeline.store import ShardWriter, StoreWriter, sample_members, sha256_file, tar_bytes

BATCH = 16  # files per worker task


# ----------------------------------------------------------------------------- workers

_variant = None


def _init_worker(variant: Variant) -> None:
    global _variant
    import torch
    torch.set_num_threads(1)
    _variant = variant


def _process(task: Task):
    """(Sample, tar bytes of its shard members, the file used, why earlier copies failed) on success,
    else the reason as a string. A damaged file is replaced by the first of its copies that reads.
    Never raises for a data problem."""
    reasons = []
    for path in [task.path, *task.copies]:
        try:
            sample = _variant.info.read(path, _variant, task)
            meta = {"sample_id": task.sample_id, "label": task.label, "length": len(sample.motion),
                    "dataset": _variant.dataset, **task.fields}
            return sample, tar_bytes(task.sample_id, sample_members(sample, task.label, meta)), path, reasons
        except SampleError as e:
            reasons.append(str(e))
        except OSError as e:
            reasons.append(f"cannot read: {e.strerror or e}")
        except Exception as e:  # a bug, not a data problem: still report the file and go on
            reasons.append(f"unexpected {type(e).__name__}: {e}")
    return reasons[0]


def _process_batch(batch: list) -> list:
    return [_process(t) for t in batch]


def run_tasks(tasks: list, variant: Variant, workers: int):
    """Yield (task, (Sample, members) | reason) in task order, with at most ~4 batches per worker in flight."""
    batches = [tasks[i:i + BATCH] for i in range(0, len(tasks), BATCH)]
    if workers <= 1:
        import torch
        threads = torch.get_num_threads()
        _init_worker(variant)
        try:
            for batch in batches:
                yield from zip(batch, _process_batch(batch))
        finally:
            torch.set_num_threads(threads)          # the caller's setting, e.g. for training next
        return
    for batch, result in zip(batches, in_order(_process_batch, batches, workers, _init_worker, (variant,))):
        yield from zip(batch, result)


# ----------------------------------------------------------------------------- prepare

def versions() -> dict:
    import torch, webdataset, zarr
    return {"gltr": gltr.__version__, "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "zarr": zarr.__version__, "pyarrow": pa.__version__,
            "webdataset": getattr(webdataset, "__version__", "unknown")}


def prepare(dataset: str, raw: Path, out: Path, workers: int = 1, bodies: str | None = None,
            rotation: str | None = None, clip: str | None = None, shard_size: int = 500, overwrite: bool = False,
            log=print, progress=None) -> dict:
    """Prepare `dataset` from the raw files under `raw` into `out`; return the report (prepare.json).

    discover -> parse in workers and write (store, manifest, shards) under `<out>.partial` -> finish
    (prepare.json, then one rename). `log(line)` gets one line per failed file; `progress(advance,
    total)` is called per file.
    """
    start = time.perf_counter()
    variant = make_variant(dataset, bodies, rotation, clip)
    raw, out = Path(raw), Path(out)
    check_output(raw, out, overwrite)
    lock = hold_lock(out.with_name(out.name + ".lock"), "prepare")    # one prepare per output at a time
    found = variant.info.discover(dataset, raw, log)
    for f in found.failed:
        log(f"{f['file']}: {f['reason']}")
    tmp = start_partial(out)
    written = write(found, variant, raw, tmp, workers, shard_size, log, progress)
    files = output_hashes(tmp, written["shard_writers"])
    seconds = time.perf_counter() - start
    report = {
        "dataset": dataset,
        "raw": str(raw.resolve()),
        "variant": variant.to_dict(),
        "versions": versions(),
        "counts": {"files_seen": found.files_seen, "prepared": written["prepared"], "frames": written["frames"],
                   "failed": len(written["failed"]), "missing_skeleton": len(found.missing),
                   "duplicates": len(found.duplicates), "out_of_scope": found.out_of_scope,
                   **({"all_zero_instances": sum(f["reason"] == ALL_ZERO for f in written["failed"]),
                       "listed_without_skeleton": sum(map(len, found.listed_without_skeleton.values()))}
                      if found.listed_without_skeleton is not None else {})},     # split files: PKU-MMD
        "splits": written["splits"],
        "failed": written["failed"],
        "missing_skeleton": found.missing,
        "duplicates": found.duplicates,
        **({"listed_without_skeleton": found.listed_without_skeleton} if found.listed_without_skeleton is not None
           else {}),
        "files": files,
        # "run" is the only part that differs between identical runs (times, worker count).
        "run": {"workers": workers, "seconds": round(seconds, 3),
                "files_per_s": round(len(found.tasks) / seconds, 1) if seconds else None},
    }
    finish(tmp, out, report)
    lock.release()
    return report


def start_partial(out: Path) -> Path:
    """A fresh <out>.partial, marked as ours; one left by an interrupted run (ours) is removed first."""
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        if not ((tmp / PARTIAL_MARK).exists() or (tmp / "prepare.json").exists()):
            raise FileExistsError(f"{tmp} exists and was not made by gltr prepare: move it away")
        shutil.rmtree(tmp)          # left by an interrupted run: redo from scratch
    tmp.mkdir(parents=True)
    (tmp / PARTIAL_MARK).write_text("an unfinished gltr prepare; removed by the next run\n")
    return tmp


def write(found, variant: Variant, raw: Path, tmp: Path, workers: int, shard_size: int, log, progress) -> dict:
    """Parse every task in workers and write store.zarr, manifest.parquet and the shards under `tmp`."""
    benchmarks, num_classes, dataset = found.benchmarks or variant.info.benchmarks, variant.info.num_classes, variant.dataset
    store = StoreWriter(tmp / "store.zarr", variant)
    shard_writers = {(b, s): ShardWriter(tmp / "shards" / b, s, shard_size) for b in benchmarks for s in ("train", "test")}
    columns = {k: [] for k in ["sample_id", "label", "length", "offset", "raw_bodies", "source", "sha256"]}
    field_names = list(found.tasks[0].fields) if found.tasks else []
    for k in field_names + [f"split_{b}" for b in benchmarks]:
        columns[k] = []
    failed = list(found.failed)
    if progress:
        progress(0, len(found.tasks))

    for task, result in run_tasks(found.tasks, variant, workers):
        if progress:
            progress(1, len(found.tasks))
        rel = str(task.path.relative_to(raw))
        if isinstance(result, str):
            if task.splits is not None:                 # PKU-MMD: one instance of the sequence failed
                rel = f"{rel} (label row {task.fields['row'] + 1})"
            failed.append({"file": rel, "reason": result})
            log(f"{rel}: {result}")
            continue
        result, blob, used, reasons = result
        if used != task.path:       # the first copy was damaged: the one used becomes the original, the damaged one the duplicate
            used_rel = str(used.relative_to(raw))
            for d in found.duplicates:
                if d["file"] == used_rel:
                    d.update(file=rel, damaged=reasons[0])
                if d["duplicate_of"] == rel:
                    d["duplicate_of"] = used_rel
            log(f"{rel}: {reasons[0]}; prepared from its copy {used_rel}")
            rel = used_rel
        offset = store.append(result)
        for b in benchmarks:
            split = task.splits[b] if task.splits is not None else variant.info.split_of(b, task.fields)
            shard_writers[b, split].write(blob)
            columns[f"split_{b}"].append(split)
        for k, v in [("sample_id", task.sample_id), ("label", task.label), ("length", len(result.motion)),
                     ("offset", offset), ("raw_bodies", result.raw_bodies), ("source", rel),
                     ("sha256", result.sha256)]:
            columns[k].append(v)
        for k in field_names:
            columns[k].append(task.fields[k])

    store.close({"dataset": dataset, "variant": variant.to_dict(), "num_samples": len(columns["sample_id"]),
                 "num_classes": num_classes, "gltr_version": gltr.__version__})
    types = {"label": pa.int16(), "length": pa.int32(), "offset": pa.int64(), "raw_bodies": pa.int16(),
             **{k: pa.int32() if k in ("start", "end") else pa.int16() for k in field_names}}
    table = pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in columns.items()})
    pq.write_table(table, tmp / "manifest.parquet")
    splits = {}
    for (b, s), w in shard_writers.items():
        index = w.close({"dataset": dataset, "benchmark": b, "variant": variant.to_dict(), "num_classes": num_classes})
        splits.setdefault(b, {})[s] = index["num_samples"]
    return {"prepared": len(columns["sample_id"]), "frames": store.offsets[-1], "splits": splits,
            "failed": sorted(failed, key=lambda f: f["file"]), "shard_writers": list(shard_writers.values())}


def finish(tmp: Path, out: Path, report: dict) -> None:
    """prepare.json, then the complete output replaces <out> by renaming: the old output goes aside,
    the new one in, then the old one is removed."""
    (tmp / "prepare.json").write_text(json.dumps(report, indent=1) + "\n")
    (tmp / PARTIAL_MARK).unlink()
    if out.exists():
        old = out.with_name(f"{out.name}.replaced-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


PARTIAL_MARK = ".gltr-partial"


def check_output(raw: Path, out: Path, overwrite: bool) -> None:
    """Before any work: --out must lie outside --raw, and may only replace an earlier gltr output."""
    raw_r, out_r = raw.resolve(), out.resolve()
    if out_r == raw_r or raw_r in out_r.parents or out_r in raw_r.parents:
        raise ValueError(f"--out {out} is inside or above --raw {raw}: choose a folder outside the raw data")
    if out.is_symlink():
        raise FileExistsError(f"--out {out} is a symbolic link: give the folder it points to, or another --out "
                              f"(gltr replaces an output by renaming, which would replace the link, not its target)")
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"--out {out} exists and is not a folder")
        if not overwrite:
            raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
        if not (out / "prepare.json").is_file():
            raise FileExistsError(f"{out} is not a gltr output (no prepare.json): refusing to replace it")


def output_hashes(root: Path, shard_writers) -> dict:
    """sha256 of every output file; the shards' were taken while they were written."""
    known = {str((w.dir / s["name"]).relative_to(root)): s["sha256"] for w in shard_writers for s in w.shards}
    return {rel: known.get(rel) or sha256_file(p)
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != PARTIAL_MARK for rel in [str(p.relative_to(root))]}


def exit_status(report: dict) -> int:
    """0 if every file prepared or was skipped for a documented reason (an all-zero PKU-MMD instance is one:
    MAMP drops them too); 1 if any file failed."""
    return 1 if report["counts"]["failed"] - report["counts"].get("all_zero_instances", 0) else 0


