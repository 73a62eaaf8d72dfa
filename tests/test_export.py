"""Exports, re-read the way the consuming code reads them (its loader written out here), against our prepared data;
and where an export may write: never into the dataset or a raw folder, the given one or the recorded one."""
import json
import os
import pickle
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import zarr
from typer.testing import CliRunner

from gltr.cli.main import app
from gltr.pipeline.prepare import prepare
from gltr.pipeline.synth import synth_ntu, synth_pku


def pyskl_pose_dataset(ann_file, split_name: str) -> list:
    """pyskl's PoseDataset.load_annotations (and mmaction2's), written out: the pickle, the split's ids, the
    annotations whose identifier is in it; then FormatGCNInput's padding of M to 2 persons."""
    data = pickle.load(open(ann_file, "rb"))
    split, data = data["split"], data["annotations"]
    identifier = "filename" if "filename" in data[0] else "frame_dir"
    split = set(split[split_name])
    data = [x for x in data if x[identifier] in split]
    for x in data:
        keypoint = x["keypoint"]                                            # [M, T, V, C]
        assert keypoint.shape[1] == x["total_frames"] and keypoint.shape[3] == 3
        if keypoint.shape[0] < 2:
            keypoint = np.concatenate([keypoint, np.zeros((2 - keypoint.shape[0], *keypoint.shape[1:]), keypoint.dtype)])
        x["gcn_input"] = keypoint
    return data


def test_pyskl_export_reads_back_as_our_prepared_joints(synth_ntu_prepared, tmp_path):
    out = tmp_path / "ntu120_3danno.pkl"
    r = CliRunner().invoke(app, ["export", "pyskl", str(synth_ntu_prepared), "--out", str(out)])
    assert r.exit_code == 0, r.output
    manifest = pq.read_table(synth_ntu_prepared / "manifest.parquet").to_pydict()
    row = {s: i for i, s in enumerate(manifest["sample_id"])}
    joints = zarr.open_group(synth_ntu_prepared / "store.zarr", mode="r")["joints"][:]
    single = 0
    for benchmark in ("xsub", "xset"):
        for ours, theirs in (("train", "train"), ("test", "val")):
            samples = pyskl_pose_dataset(out, f"{benchmark}_{theirs}")
            assert sorted(x["frame_dir"] for x in samples) == sorted(
                s for s, split in zip(manifest["sample_id"], manifest[f"split_{benchmark}"]) if split == ours)
            for x in samples:
                i = row[x["frame_dir"]]
                a, b = manifest["offset"][i], manifest["offset"][i] + manifest["length"][i]
                want = joints[a:b].transpose(1, 0, 2, 3).astype(np.float16)  # [2, T, 25, 3]
                assert x["label"] == manifest["label"][i] and x["keypoint"].dtype == np.float16
                assert np.array_equal(x["gcn_input"], want)
                single += x["keypoint"].shape[0] == 1
    assert 0 < single < 2 * len(manifest["sample_id"])                      # one-person clips have M = 1, others 2
    r = CliRunner().invoke(app, ["export", "pyskl", str(synth_ntu_prepared), "--out", str(out)])
    assert r.exit_code == 2 and "--overwrite" in r.output


def test_pyskl_export_of_nwucla(ucla_prepared, tmp_path):
    out = tmp_path / "nwucla_3danno.pkl"
    r = CliRunner().invoke(app, ["export", "pyskl", str(ucla_prepared), "--out", str(out)])
    assert r.exit_code == 0, r.output
    train, test = pyskl_pose_dataset(out, "view_train"), pyskl_pose_dataset(out, "view_val")
    assert len(train) == 1020 and len(test) == 464
    assert {x["keypoint"].shape[0] for x in train + test} == {1} and {x["keypoint"].shape[2] for x in test} == {20}
    assert sorted({x["label"] for x in test}) == list(range(10))


# ----------------------------------------------------------------------------- where an export may write

def error_line(r, code: int = 2) -> str:
    """The CLI's contract for an error: its exit status and one last line `error: …`, no traceback."""
    assert r.exit_code == code and "Traceback" not in r.output, r.output[-2000:]
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: "), r.output[-2000:]
    return lines[-1]


def prepared(tmp_path, dataset: str):
    """A small dataset of this test's own, prepared from tmp_path/raw into tmp_path/data (a broken export may write
    into its raw folder, so never a shared fixture's)."""
    raw, data = tmp_path / "raw", tmp_path / "data"
    if dataset == "ntu120":
        synth_ntu(raw, 4, seed=0, classes=2, lengths=(20, 30))
    else:
        synth_pku(raw, 3, seed=0, phase=2, classes=3, lengths=(20, 30))
    prepare(dataset, raw, data, log=lambda line: None)
    return raw, data


def listing(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


@pytest.mark.parametrize("export, dataset", [("ctrgcn", "ntu120"), ("mamp", "pkummd2")])
def test_an_export_never_writes_into_the_recorded_raw_folder(tmp_path, export, dataset):
    """`--raw COPY --out RAW/x`: the raw folder prepare.json records is checked too, not only the --raw given;
    an --out inside either, or holding either, is refused before anything is written."""
    raw, data = prepared(tmp_path, dataset)
    copy = tmp_path / "copy"
    shutil.copytree(raw, copy)
    before = listing(raw)
    for out, says in ((raw / "x", "is inside the raw folder"), (raw, "is inside the raw folder"),
                      (copy / "x", "is inside the raw folder"), (tmp_path, "holds the raw folder"),
                      (tmp_path / "link" / "x", "is inside the raw folder")):
        if out.parent.name == "link":
            (tmp_path / "link").symlink_to(raw)                             # resolved: the link is the raw folder
        r = CliRunner().invoke(app, ["export", export, str(data), "--raw", str(copy), "--out", str(out)])
        line = error_line(r)
        assert says in line and str(out) in line, (out, line)
        assert listing(raw) == before and not (tmp_path / "x").exists()
    r = CliRunner().invoke(app, ["export", export, str(data), "--raw", str(copy), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output                                     # a copy of the raw files is read
    assert listing(raw) == before and any((tmp_path / "out").glob("*.npz"))


def test_pyskl_export_refuses_an_unreadable_prepare_json(tmp_path):
    """The recorded raw folder cannot be checked without prepare.json: refused, one line naming it and why."""
    raw, data = prepared(tmp_path, "ntu120")
    report, out = data / "prepare.json", tmp_path / "a.pkl"
    good = json.loads(report.read_text())

    def rewrite(text):
        report.write_text(text)

    def replace_with(make):
        report.unlink()
        make(report)

    cases = {
        "missing": (lambda: report.unlink(), "missing"),
        "a folder": (lambda: replace_with(lambda p: p.mkdir()), "not a regular file"),
        "a FIFO": (lambda: replace_with(os.mkfifo), "not a regular file"),
        "not JSON": (lambda: rewrite("{not json"), "not valid JSON"),
        "not UTF-8": (lambda: report.write_bytes(json.dumps(good).encode()[:-1] + b', "x": "\xff"}'),
                      "not valid JSON"),
        "not an object": (lambda: rewrite("[]"), "not a JSON object"),
        "no raw folder": (lambda: rewrite(json.dumps({k: v for k, v in good.items() if k != "raw"})), "'raw' is None"),
        "a relative raw folder": (lambda: rewrite(json.dumps({**good, "raw": "raw"})), "'raw' is 'raw'"),
    }
    for name, (spoil, says) in cases.items():
        spoil()
        r = CliRunner().invoke(app, ["export", "pyskl", str(data), "--out", str(out)])
        line = error_line(r)
        assert f"{report}: " in line and says in line, (name, line)
        assert not out.exists(), name
        if report.is_dir():
            report.rmdir()
        report.unlink(missing_ok=True)
        rewrite(json.dumps(good))
    line = error_line(CliRunner().invoke(app, ["export", "pyskl", str(data), "--out", str(raw / "a.pkl")]))
    assert "is inside the raw folder" in line and not (raw / "a.pkl").exists()
    r = CliRunner().invoke(app, ["export", "pyskl", str(data), "--out", str(out)])
    assert r.exit_code == 0, r.output
