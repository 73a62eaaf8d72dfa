"""`gltr export mamp`: the files MAMP's `data/pku_v{1,2}/pku_gendata.py` writes, for MAMP, S-JEPA, MacDiff
and every model that reads them.

    gltr export mamp data/pkummd2 --out exports/     # PKUv2_XSub.npz, PKUv2_XView.npz

Each file holds x_train, y_train, x_test, y_test: x float32 [N, 300, 150] (the instance's rows
[start:end) of its raw sequence as written, two bodies x 25 joints x xyz; the first 300 frames, zeros
after a shorter one; no centring), y float64 one-hot with 51 columns for both phases, as MAMP's.
Values come from the raw files (sha256-checked against prepare.json), parsed as numpy.loadtxt
parses them (float64, then stored float32).

Order: MAMP walks `os.listdir(skeleton/)`, whose order depends on the filesystem; gltr writes the
sequences sorted by name, then each sequence's label rows in order (the manifest's order). A
benchmark's split follows its split file. Instances MAMP keeps and gltr does not: none on valid
data; gltr's prepare fails a row whose frames run past the sequence (MAMP keeps what slicing leaves)
and a row it cannot parse (MAMP stops), and both skip an all-zero instance.
Memory stays flat: one sequence is parsed at a time, one sample written at a time.
"""
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from gltr.datasets import Variant
from gltr.export import target
from gltr.export.ctrgcn import NpzWriter, checked_raw
from gltr.pipeline.pku import PkuError, instance_frames, parse_sequence
from gltr.pipeline.store import sha256_file
from gltr.safety import atomic_file

FRAMES, COLUMNS = 300, 51           # MAMP's max_frame and one-hot width (both phases)
FILES = {("pkummd1", "xsub"): "PKUv1_XSub.npz", ("pkummd1", "xview"): "PKUv1_XView.npz",
         ("pkummd2", "xsub"): "PKUv2_XSub.npz", ("pkummd2", "xview"): "PKUv2_XView.npz"}


def export_mamp(data, out, raw=None, log=print, overwrite: bool = False) -> dict:
    """Write each prepared benchmark's .npz under `out` (never inside the dataset or its raw folder; replacing only
    files gltr exported); return {file: {"train": N, "test": N}}."""
    data, out = Path(data), Path(out)
    report = target.prepare_report(data)
    variant = Variant.from_dict(report["variant"], str(data / "prepare.json"))
    if not all((variant.dataset, b) in FILES for b in variant.info.benchmarks):      # PKU-MMD's only
        raise ValueError(f"{data}: MAMP's PKUv1/PKUv2 files are PKU-MMD's; this dataset is {variant.dataset}")
    if variant.clip != "start:end":
        raise ValueError(f"{data}: prepared with --clip {variant.clip}; MAMP's files slice [start:end): prepare "
                         f"again without --clip")
    benchmarks = tuple(report["splits"])
    recorded = target.recorded_raw(data, report)
    raw = recorded if raw is None else Path(raw)
    target.check_outside(out, data, [raw, recorded])        # the given --raw and the folder prepare read
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file, not a folder")
    with target.lock(out):
        target.check_replaceable(out, [FILES[variant.dataset, b] for b in benchmarks], overwrite)
        m = pq.read_table(data / "manifest.parquet", columns=["sample_id", "label", "source", "sha256", "start",
                                                              "end"] + [f"split_{b}" for b in benchmarks]).to_pydict()
        written = {}
        for b in benchmarks:
            name = FILES[variant.dataset, b]
            rows = {part: [r for r, s in enumerate(m[f"split_{b}"]) if s == part] for part in ("train", "test")}
            log(f"{name}: {len(rows['train'])} train, {len(rows['test'])} test")
            with atomic_file(out / name) as tmp:                          # never a partial file left behind
                npz = NpzWriter(tmp)
                try:
                    for part in ("train", "test"):
                        write_part(npz, part, m, rows[part], raw)
                finally:
                    npz.close()
            target.add_to_record(out, {name: sha256_file(out / name)})
            written[name] = {"train": len(rows["train"]), "test": len(rows["test"])}
    return written


def write_part(npz: NpzWriter, part: str, m: dict, rows: list, raw: Path) -> None:
    """x_<part> then y_<part>, one sample at a time (a sequence is parsed once for its consecutive rows)."""
    with npz.member(f"x_{part}", np.float32, (len(rows), FRAMES, 150)) as f:
        last = (None, None)
        for r in rows:
            source = m["source"][r]
            if last[0] != source:
                last = (source, sequence(raw, source, m["sha256"][r]))
            first, stop = instance_frames(m["start"][r], m["end"][r], "start:end")
            x = np.zeros((FRAMES, 150), np.float32)
            instance = last[1][first:stop][:FRAMES]
            x[:len(instance)] = instance
            f.write(x.tobytes())
    npz.one_hot(f"y_{part}", [m["label"][r] for r in rows], COLUMNS)


def sequence(raw: Path, source: str, sha256: str) -> np.ndarray:
    """[frames, 150] float32 of one raw sequence, checked against its recorded sha256."""
    data = checked_raw(raw, source, sha256)
    try:
        return parse_sequence(data)
    except PkuError as e:
        raise ValueError(f"{raw / source}: {e}") from None
