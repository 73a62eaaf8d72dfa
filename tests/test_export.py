"""Exports, re-read the way the consuming code reads them (its loader written out here), against our prepared data."""
import pickle

import numpy as np
import pyarrow.parquet as pq
import zarr
from typer.testing import CliRunner

from gltr.cli.main import app


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
