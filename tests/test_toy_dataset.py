"""A new dataset is one row: this file alone defines a toy dataset (its own raw text format, name grammar, split,
labels and action names), registers it for the test and runs it through prepare, verify, the loader and a probe."""
import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from gltr.datasets import CROP, DATASETS, DatasetInfo, files_named_as_samples, make_variant

# ----------------------------------------------------------------------------- the toy dataset
# Raw files "pPP-cC-rR.toy" (performer, class 1-2, repetition); one text row per frame: 5 joints x xyz.
TOY_JOINTS = ("hip", "left_shoulder", "right_shoulder", "left_hand", "right_hand")


def toy_name(name: str) -> dict | None:
    parts = name.split("-")
    if len(parts) != 3 or [p[:1] for p in parts] != ["p", "c", "r"] or not all(p[1:].isdigit() for p in parts):
        return None
    return {"performer": int(parts[0][1:]), "cls": int(parts[1][1:]), "repetition": int(parts[2][1:])}


def toy_problem(fields: dict) -> str | None:
    return None if fields["cls"] in (1, 2) else f"class {fields['cls']} is not 1 or 2"


def toy_read(path, variant, task):
    from gltr.pipeline.sample import SampleError, finish, read_raw
    data = read_raw(path)
    try:
        x = np.array([[float(v) for v in line.split()] for line in data.decode().splitlines() if line.strip()])
    except ValueError as e:
        raise SampleError(f"not a toy file: {e}") from None
    if x.ndim != 2 or x.shape[1] != 15:
        raise SampleError(f"rows of {x.shape[-1] if x.ndim == 2 else 0} numbers, not 15")
    return finish(path.stem, hashlib.sha256(data).hexdigest(), 1, x.reshape(len(x), 1, 5, 3), variant)


TOY = DatasetInfo(
    "toy", ".toy", 1, TOY_JOINTS, ((0, 1), (0, 2), (1, 3), (2, 4)), 0, (1, 2), 32, CROP, ("single",), ("xsub",),
    2, "tiny", 1, 1, discover=files_named_as_samples, read=toy_read, parse_name=toy_name, name_pattern="pPP-cC-rR",
    action_code=lambda label: f"c{label + 1}", label_of=lambda fields: fields["cls"] - 1,
    split_of=lambda benchmark, fields: "train" if fields["performer"] <= 2 else "test", name_problem=toy_problem)


def write_toy(raw, performer: int, cls: int, repetition: int, rng) -> None:
    """Class 1 waves both hands (a 0.3 m swing), class 2 stands still; 20-40 frames."""
    T = int(rng.integers(20, 41))
    pose = np.array([[0, 0, 3], [-0.2, 0.5, 3], [0.2, 0.5, 3], [-0.3, 0.1, 3], [0.3, 0.1, 3]], float)
    x = np.repeat(pose[None], T, 0) + rng.normal(0, 0.002, (T, 5, 3))
    if cls == 1:
        x[:, 3:, 1] += 0.3 * np.sin(np.arange(T) / 3 + rng.uniform(0, 6))[:, None]
    (raw / f"p{performer:02d}-c{cls}-r{repetition}.toy").write_text(
        "\n".join(" ".join(f"{v:.5f}" for v in row) for row in x.reshape(T, 15)) + "\n")


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(DATASETS, "toy", TOY)          # the one registration; forked workers inherit it


def test_a_toy_dataset_defined_here_alone_runs_through_prepare_verify_loader_and_a_probe(toy, tmp_path):
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.verify import verify
    from gltr.analysis.show import class_text
    from gltr.train.data import LoaderConfig, ShardLoader
    from gltr.configs import KnnConfig
    from gltr.train.evaluate import knn_eval
    raw, data = tmp_path / "raw", tmp_path / "toy"
    raw.mkdir()
    rng = np.random.default_rng(0)
    for performer in (1, 2, 3):
        for cls in (1, 2):
            for repetition in (1, 2, 3, 4):
                write_toy(raw, performer, cls, repetition, rng)
    (raw / "notes.toy").write_text("1 2 3\n")                    # not a toy name
    (raw / "p01-c3-r1.toy").write_text("1 2 3\n")                # a name its name_problem refuses
    (raw / "p03-c1-r9.toy").write_text("1 2 3\n")                # a name, but not a toy file

    report = prepare("toy", raw, data, workers=2, shard_size=4, log=lambda line: None)

    assert report["counts"]["prepared"] == 24 and report["counts"]["files_seen"] == 27
    assert {f["file"]: f["reason"] for f in report["failed"]} == {
        "notes.toy": "bad file name, expected pPP-cC-rR.toy", "p01-c3-r1.toy": "class 3 is not 1 or 2",
        "p03-c1-r9.toy": "rows of 3 numbers, not 15"}
    assert report["splits"] == {"xsub": {"train": 16, "test": 8}}
    assert report["variant"] == make_variant("toy").to_dict() and report["variant"]["joints"] == 5
    assert "listed_without_skeleton" not in report                # no split files: no such counts
    assert verify(data) == []
    m = pq.read_table(data / "manifest.parquet").to_pydict()
    assert m["label"] == [int(s.split("-")[1][1:]) - 1 for s in m["sample_id"]]
    assert m["split_xsub"] == ["train" if int(s[1:3]) <= 2 else "test" for s in m["sample_id"]]
    assert set(m["performer"]) == {1, 2, 3} and all(20 <= n <= 32 for n in m["length"])

    loader = ShardLoader(data, "xsub", "train", LoaderConfig(batch_size=8, workers=0, shuffle=False))
    batches = list(loader.epoch(0))
    assert sum(len(b["key"]) for b in batches) == 16 and len(batches) == len(loader) == 2
    for b in batches:
        B, T, P, K, C = b["motion"].shape
        assert (P, K, C) == (1, 5, 3) and T <= 32 and np.isfinite(b["motion"].numpy()).all()
        assert set(b["label"].tolist()) <= {0, 1}

    result = knn_eval(KnnConfig(data=str(data), benchmark="xsub", features="handcrafted", k=1, workers=0,
                                out=str(tmp_path / "probe")))
    saved = json.loads((tmp_path / "probe/eval/knn-xsub-handcrafted-k1.json").read_text())
    assert saved["top1"] == result["top1"] > 50               # above chance: waving and standing still differ
    assert saved["train_samples"] == 16 and saved["test_samples"] == 8
    assert class_text(make_variant("toy"), 1) == "c2, label 1"
