"""`gltr export pyskl`: a prepared dataset as pyskl's / mmaction2's 3D skeleton annotation file.

    gltr export pyskl data/ntu120 --out ntu120_3danno.pkl

The format of pyskl's `tools/data/README.md` as its `ntu_preproc.py` writes it: a pickle of
{"split": {"<benchmark>_train": [frame_dir, ...], "<benchmark>_val": [...]}, "annotations": [...]},
each annotation {"frame_dir": sample id, "label": 0-based, "total_frames": T, "keypoint": float16
[M, T, V, 3] camera coordinates}, M = 1 when the clip has one person, sorted by sample id.
`PoseDataset(ann_file=..., split="xsub_train")` of pyskl and of mmaction2 reads it unchanged.
The bodies and frames are those of the prepared dataset (its `--bodies` rule; NTU clips longer
than T_max = 300 frames keep their first 300).
"""
import pickle
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import zarr

from gltr.datasets import Variant
from gltr.export import target
from gltr.pipeline.store import require_prepared, sha256_file
from gltr.safety import atomic_file

BLOCK = 1024        # samples read from the store at once
FLOAT16_MAX = 65504.0


def annotations(data: Path):
    """Yield one pyskl annotation per sample, in manifest (sample id) order, reading the store block by block."""
    manifest = pq.read_table(data / "manifest.parquet", columns=["sample_id", "label", "offset", "length"]).to_pydict()
    joints = zarr.open_group(data / "store.zarr", mode="r")["joints"]
    n = len(manifest["sample_id"])
    for first in range(0, n, BLOCK):
        last = min(first + BLOCK, n) - 1
        start = manifest["offset"][first]
        block = joints[start:manifest["offset"][last] + manifest["length"][last]]        # [frames, P, K, 3]
        for i in range(first, last + 1):
            a = manifest["offset"][i] - start
            x = block[a:a + manifest["length"][i]].transpose(1, 0, 2, 3)                 # [P, T, K, 3]
            persons = [p for p in range(len(x)) if p == 0 or np.abs(x[p]).sum() > 0]       # an absent 2nd person: M = 1
            largest = float(np.abs(x).max()) if x.size else 0.0
            if not largest <= FLOAT16_MAX:
                raise ValueError(f"{data}: sample {manifest['sample_id'][i]}: a coordinate of {largest:.6g} does not fit "
                                 f"pyskl's float16 keypoints (at most {FLOAT16_MAX})")
            yield {"frame_dir": manifest["sample_id"][i], "label": int(manifest["label"][i]),
                   "total_frames": int(manifest["length"][i]), "keypoint": x[persons].astype(np.float16)}


def splits(data: Path, benchmarks: tuple) -> dict:
    """{"<benchmark>_train": [ids], "<benchmark>_val": [ids]} (pyskl calls the test split "val")."""
    manifest = pq.read_table(data / "manifest.parquet", columns=["sample_id"] + [f"split_{b}" for b in benchmarks]).to_pydict()
    out = {}
    for b in benchmarks:
        for ours, theirs in (("train", "train"), ("test", "val")):
            out[f"{b}_{theirs}"] = [s for s, split in zip(manifest["sample_id"], manifest[f"split_{b}"]) if split == ours]
    return out


def export_pyskl(data, out, overwrite: bool = False) -> dict:
    """Write the annotation file `out` (under a temporary name, then renamed; never inside the dataset or its raw
    folder; replacing only a file gltr exported); return counts."""
    data, out = require_prepared(data), Path(out)
    target.check_outside(out, data, [target.recorded_raw(data, target.prepare_report(data))])
    variant = Variant.from_dict(dict(zarr.open_group(data / "store.zarr", mode="r").attrs["variant"]),
                                str(data / "store.zarr"))
    with target.lock(out.parent):
        target.check_replaceable(out.parent, [out.name], overwrite)
        result = {"split": splits(data, variant.info.benchmarks), "annotations": list(annotations(data))}
        with atomic_file(out) as tmp:
            with open(tmp, "wb") as f:
                pickle.dump(result, f, protocol=4)
        target.add_to_record(out.parent, {out.name: sha256_file(out)})
    return {"file": str(out), "samples": len(result["annotations"]),
            "splits": {k: len(v) for k, v in result["split"].items()}, "bytes": out.stat().st_size}
