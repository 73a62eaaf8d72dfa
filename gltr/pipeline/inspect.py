"""`gltr inspect DIR`: what a prepared dataset holds (counts per split and class, lengths, variant)."""
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from gltr import records


def summarize(root: Path) -> dict:
    root = Path(root)
    prepared = records.read(root / "prepare.json", records.PrepareReport)
    report = {**prepared.model_dump(exclude={"variant"}), "variant": prepared.variant.to_dict()}
    manifest = pq.read_table(root / "manifest.parquet").to_pydict()
    missing = [f"split_{b}" for b in report["splits"] if f"split_{b}" not in manifest] + [
        c for c in ("label", "length") if c not in manifest]
    if missing:
        raise ValueError(f"{root / 'manifest.parquet'}: no column {', '.join(missing)} (prepare.json names it)")
    labels = np.asarray(manifest["label"], np.int64)
    lengths = np.asarray(manifest["length"], np.int64)
    t_max = prepared.variant.t_max
    edges = np.linspace(0, t_max, 11).astype(int)
    hist, _ = np.histogram(lengths, bins=edges)
    per_class = {}
    for b in report["splits"]:
        splits = np.asarray(manifest[f"split_{b}"])
        for s in ("train", "test"):
            per_class[f"{b}/{s}"] = np.bincount(labels[splits == s], minlength=int(labels.max(initial=0)) + 1).tolist()
    return {
        "dataset": report["dataset"], "variant": report["variant"], "counts": report["counts"],
        "splits": report["splits"], "per_class": per_class,
        "length": {"min": int(lengths.min()) if len(lengths) else 0,
                   "mean": float(lengths.mean()) if len(lengths) else 0.0, "max": int(lengths.max(initial=0)),
                   "histogram": [{"from": int(a), "to": int(b), "count": int(c)} for a, b, c in zip(edges[:-1], edges[1:], hist)]},
    }
