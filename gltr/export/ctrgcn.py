"""`gltr export ctrgcn`: the files CTR-GCN's `seq_transformation.py` writes, for CTR-GCN, MAMP,
MacDiff, S-JEPA and every model that reads them.

    gltr export ctrgcn data/ntu60 --out exports/     # NTU60_CS.npz, NTU60_CV.npz
    gltr export ctrgcn data/ntu120 --out exports/    # NTU120_CSub.npz, NTU120_CSet.npz

Each file holds x_train, y_train, x_test, y_test: x float32 [N, T, 150] (two actors x 25 joints x
xyz, actor-major), zero-padded after each clip to the longest clip exported (300 on the full
sets); y float64 one-hot [N, classes]. As CTR-GCN computes them: the raw files of the prepared
dataset (its manifest's `source`, sha256-checked) go through CTR-GCN's denoising
(`gltr.pipeline.bodies.denoised_actors`), every frame is translated by joint 2 (SpineMid) of
actor 1's first frame, a one-actor clip gets zeros (NTU-60) or a copy of itself (NTU-120) as its
second actor, and each split lists its samples performer by performer (setup by setup, camera
by camera) in CTR-GCN's id order, by name within each. The .npy members are streamed into the
.npz one sample at a time: memory stays flat however many samples there are. Raw files are parsed
in `workers` processes (in order, a bounded number in flight); each is parsed once per pass.
"""
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from numpy.lib.format import write_array_header_1_0

from gltr.datasets import Variant
from gltr.export import target
from gltr.pipeline.store import sha256_file
from gltr.safety import atomic_file
from gltr.pipeline.bodies import denoised_actors
from gltr.pipeline.names import parse_ntu_name, split_rules
from gltr.pipeline.parallel import in_order
from gltr.pipeline.sample import read_raw
from gltr.pipeline.ntu_reader import SkeletonError, parse_skeleton

FILES = {("ntu60", "xsub"): "NTU60_CS.npz", ("ntu60", "xview"): "NTU60_CV.npz",
         ("ntu120", "xsub"): "NTU120_CSub.npz", ("ntu120", "xset"): "NTU120_CSet.npz"}


def translated(joints: np.ndarray) -> np.ndarray:
    """CTR-GCN's seq_translation: every frame minus joint 2 of actor 1's first non-zero frame; an
    actor's missing (all-zero) frames stay zero."""
    joints = joints.copy()
    missing = [np.flatnonzero(joints[:, a:a + 75].sum(axis=1) == 0) for a in range(0, joints.shape[1], 75)]
    first = next((i for i in range(len(joints)) if np.any(joints[i, :75] != 0)), len(joints) - 1)
    origin = joints[first, 3:6].copy()
    joints -= np.tile(origin, joints.shape[1] // 3)
    if joints.shape[1] == 150:
        for a, frames in enumerate(missing):
            joints[frames, 75 * a:75 * a + 75] = 0
    return joints


def checked_raw(raw: Path, source: str, sha256: str) -> bytes:
    """The bytes of a manifest row's raw file (`source`, a path inside `raw`), checked against its recorded sha256."""
    if not isinstance(source, str) or Path(source).is_absolute() or ".." in Path(source).parts:
        raise ValueError(f"{raw}: the manifest's source {source!r} is not a path inside the raw folder")
    data = read_raw(raw / source)                                   # bounded; never blocks on a FIFO
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{raw / source}: sha256 differs from the one recorded by prepare (the raw file changed)")
    return data


def sequence(raw: Path, source: str, sha256: str) -> np.ndarray:
    """The translated CTR-GCN joints [T, 75 | 150] of one raw file, checked against its recorded sha256."""
    data = checked_raw(raw, source, sha256)
    try:
        return translated(denoised_actors(parse_skeleton(data)))
    except (SkeletonError, ValueError) as e:
        raise ValueError(f"{raw / source}: {e}") from None


BATCH = 32      # raw files per task of a worker process


def _sequences(jobs: list) -> list:
    return [sequence(*job) for job in jobs]


def sequences(raw: Path, m: dict, rows: list, workers: int):
    """Yield the translated joints of each manifest row in `rows`, in order: parsed here, or in `workers`
    processes with at most 4 batches per worker in flight (memory stays bounded)."""
    jobs = [(raw, m["source"][r], m["sha256"][r]) for r in rows]
    batches = [jobs[i:i + BATCH] for i in range(0, len(jobs), BATCH)]
    if workers <= 1:
        for batch in batches:
            yield from _sequences(batch)
        return
    for result in in_order(_sequences, batches, workers):
        yield from result


def ordered(names: list, split: list, dataset: str, benchmark: str) -> tuple[list, list]:
    """(train rows, test rows) in CTR-GCN's order: training ids in the split rule's order (CTR-GCN's
    lists), test ids ascending, and within one id the manifest's (name) order."""
    rule = split_rules()[dataset][benchmark]
    by_id = {}
    for r, name in enumerate(names):
        by_id.setdefault(parse_ntu_name(name)[rule["field"]], []).append(r)
    train_ids = list(rule["train"])
    test_ids = sorted(set(by_id) - set(train_ids))
    train = [r for i in train_ids for r in by_id.get(i, []) if split[r] == "train"]
    test = [r for i in test_ids for r in by_id[i] if split[r] == "test"]
    return train, test


class NpzWriter:
    """An .npz (a zip of .npy members, as np.savez writes) filled member by member, row by row."""

    def __init__(self, path: Path):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True)

    def member(self, name: str, dtype, shape: tuple):
        f = self.zip.open(f"{name}.npy", "w", force_zip64=True)
        write_array_header_1_0(f, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
        return f

    def one_hot(self, name: str, labels, columns: int) -> None:
        """A float64 one-hot member [N, columns], as np.savez of CTR-GCN's and MAMP's label arrays."""
        with self.member(name, np.float64, (len(labels), columns)) as f:
            for label in labels:
                y = np.zeros(columns)
                y[label] = 1
                f.write(y.tobytes())

    def close(self):
        self.zip.close()


def export_ctrgcn(data, out, raw=None, workers: int = 1, log=print, overwrite: bool = False) -> dict:
    """Write each benchmark's .npz under `out` (never inside the dataset or its raw folder; replacing only files
    gltr exported); return {file: {"train": N, "test": N, "frames": T}}."""
    data, out = Path(data), Path(out)
    report = target.prepare_report(data)
    variant = Variant.from_dict(report["variant"], str(data / "prepare.json"))
    if not all((variant.dataset, b) in FILES for b in variant.info.benchmarks):      # NTU's layouts only
        raise ValueError(f"{data}: CTR-GCN's .npz files are NTU's; this dataset is {variant.dataset}")
    recorded = target.recorded_raw(data, report)
    raw = recorded if raw is None else Path(raw)
    target.check_outside(out, data, [raw, recorded])        # the given --raw and the folder prepare read
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file, not a folder")
    with target.lock(out):
        target.check_replaceable(out, [FILES[variant.dataset, b] for b in variant.info.benchmarks], overwrite)
        return write_files(data, out, raw, report, variant, workers, log)


def write_files(data: Path, out: Path, raw: Path, report: dict, variant: Variant, workers: int, log) -> dict:
    benchmarks = variant.info.benchmarks
    m = pq.read_table(data / "manifest.parquet", columns=["sample_id", "label", "source", "sha256"]
                      + [f"split_{b}" for b in benchmarks]).to_pydict()
    names = m["sample_id"]
    log(f"pass 1 of 2: the longest clip over {len(names)} raw files under {raw}")
    frames = max(len(joints) for joints in sequences(raw, m, range(len(names)), workers))
    classes = variant.info.num_classes
    written = {}
    for b in benchmarks:
        name = FILES[variant.dataset, b]
        train, test = ordered(names, m[f"split_{b}"], variant.dataset, b)
        log(f"pass 2 of 2: {name}: {len(train)} train, {len(test)} test, {frames} frames")
        with atomic_file(out / name) as tmp:                              # never a partial file left behind
            npz = NpzWriter(tmp)
            try:
                write_split_arrays(npz, m, raw, train, test, frames, classes, variant.dataset, workers)
            finally:
                npz.close()
        target.add_to_record(out, {name: sha256_file(out / name)})
        written[name] = {"train": len(train), "test": len(test), "frames": frames}
    return written


def write_split_arrays(npz: NpzWriter, m: dict, raw: Path, train: list, test: list, frames: int, classes: int,
                       dataset: str, workers: int) -> None:
    """x_train, y_train, x_test, y_test, one sample at a time."""
    for part, rows in (("train", train), ("test", test)):
        with npz.member(f"x_{part}", np.float32, (len(rows), frames, 150)) as f:
            for joints in sequences(raw, m, rows, workers):
                x = np.zeros((frames, 150), np.float32)
                if joints.shape[1] == 75:                            # one actor: NTU-120 copies it, NTU-60 pads
                    joints = np.hstack([joints, joints if dataset == "ntu120" else np.zeros_like(joints)])
                x[:len(joints)] = joints
                f.write(x.tobytes())
        npz.one_hot(f"y_{part}", [m["label"][r] for r in rows], classes)
