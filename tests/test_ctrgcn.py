"""CTR-GCN's denoising and .npz files: ours against CTR-GCN's code written out (tests/naive.py), on the real files."""
import pickle
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import naive
from gltr.cli.main import app
from gltr.pipeline.bodies import denoised_actors, select_denoise, tracked_bodies
from gltr.pipeline.ntu_reader import parse_skeleton


def real_files(real):
    return sorted((real / "ntu_skeleton").glob("*.skeleton")) + sorted((real / "ntu_skeleton_hard").glob("*.skeleton"))


def test_tracked_bodies_equal_ctrgcns_parse(real):
    for rec in pickle.load(open(real / "ctrgcn_parse/raw_data/raw_skes_data.pkl", "rb")):
        bodies, T = tracked_bodies(parse_skeleton((real / "ntu_skeleton" / f"{rec['name']}.skeleton").read_bytes()))
        assert T == rec["num_frames"] and len(bodies) == len(rec["data"])
        for mine, theirs in zip(bodies, rec["data"].values()):              # first-appearance order
            assert mine["start"] == theirs["interval"][0] and len(mine["joints"]) == len(theirs["interval"])
            assert np.array_equal(mine["joints"].reshape(-1, 3), theirs["joints"])
            assert mine["motion"] == theirs.get("motion")                    # float32, bit for bit


def test_denoising_equals_ctrgcns_on_every_real_file(real):
    compared = two_actor = 0
    for path in real_files(real):
        skel = parse_skeleton(path.read_bytes())
        if len(skel.frame) == 0:
            continue                                                         # no body in any frame: on the missing list
        want = naive.ctrgcn_denoised(naive.ctrgcn_raw_bodies(path))
        got = denoised_actors(skel)
        assert got.shape == want.shape and np.array_equal(got, want), path.name
        x = select_denoise(skel)
        assert np.array_equal(x.reshape(len(x), -1)[:, :got.shape[1]], got) and not x.reshape(len(x), -1)[:, got.shape[1]:].any()
        compared += 1
        two_actor += got.shape[1] == 150
    assert compared == 26 and two_actor >= 8


def ctrgcn_feeder(npz_path, split: str):
    """CTR-GCN's feeders/feeder_ntu.py, written out: x (N, T, 150) -> (N, T, 2, 25, 3) -> (N, 3, T, 25, 2), labels
    from the one-hot rows."""
    npz = np.load(npz_path)
    x, y = npz[f"x_{split}"], npz[f"y_{split}"]
    N, T, _ = x.shape
    return x.reshape((N, T, 2, 25, 3)).transpose(0, 4, 1, 3, 2), np.where(y > 0)[1]


@pytest.mark.parametrize("dataset", ["ntu60", "ntu120"])
def test_export_reads_back_as_ctrgcns_files(real, tmp_path, dataset):
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in real_files(real):
        shutil.copy(path, raw)
    runner = CliRunner()
    r = runner.invoke(app, ["prepare", dataset, "--raw", str(raw), "--out", str(tmp_path / "data"), "--bodies", "denoise"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", "ctrgcn", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    # parsed in two worker processes: the same bytes
    r = runner.invoke(app, ["export", "ctrgcn", str(tmp_path / "data"), "--out", str(tmp_path / "out2"), "--workers", "2"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in (tmp_path / "out2").iterdir())
    for p in (tmp_path / "out").iterdir():
        assert p.read_bytes() == (tmp_path / "out2" / p.name).read_bytes(), p.name
    import pyarrow.parquet as pq
    m = pq.read_table(tmp_path / "data/manifest.parquet").to_pydict()
    names = m["sample_id"]
    sequences = {n: naive.ctrgcn_translated(naive.ctrgcn_denoised(naive.ctrgcn_raw_bodies(raw / f"{n}.skeleton")))
                 for n in names}
    T = max(len(s) for s in sequences.values())
    files = {"ntu60": {"xsub": ("NTU60_CS.npz", 3), "xview": ("NTU60_CV.npz", 2)},
             "ntu120": {"xsub": ("NTU120_CSub.npz", 3), "xset": ("NTU120_CSet.npz", 1)}}[dataset]
    for benchmark, (file, field) in files.items():
        # CTR-GCN's get_indices: training ids in its listed order, test ids ascending; name order within an id
        ids = {"ntu60": {"xsub": [1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38],
                         "xview": [2, 3]},
               "ntu120": {"xsub": [1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46, 47,
                                   49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89,
                                   91, 92, 93, 94, 95, 97, 98, 100, 103],
                          "xset": list(range(2, 33, 2))}}[dataset][benchmark]
        top = {1: 32, 2: 3, 3: 106}[field]
        fid = [int(n[{1: 1, 2: 5, 3: 9}[field]:{1: 4, 2: 8, 3: 12}[field]]) for n in names]
        order = {"train": [r for i in ids for r in range(len(names)) if fid[r] == i],
                 "test": [r for i in range(1, top + 1) if i not in ids for r in range(len(names)) if fid[r] == i]}
        assert sorted(order["train"] + order["test"]) == list(range(len(names)))
        for split in ("train", "test"):
            x, labels = ctrgcn_feeder(tmp_path / "out" / file, split)
            rows = order[split]
            assert len(x) == len(rows) == sum(s == split for s in m[f"split_{benchmark}"])
            assert x.shape[1:] == (3, T, 25, 2)
            for k, r in enumerate(rows):
                seq = sequences[names[r]]
                if seq.shape[1] == 75:
                    seq = np.hstack([seq, seq if dataset == "ntu120" else np.zeros_like(seq)])
                want = np.zeros((T, 150), np.float32)
                want[:len(seq)] = seq
                assert np.array_equal(x[k], want.reshape(T, 2, 25, 3).transpose(3, 0, 2, 1)), (file, names[r])
                assert labels[k] == m["label"][r] == int(names[r][-3:]) - 1


def test_a_failing_export_leaves_no_file(real, tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in real_files(real)[:6]:
        shutil.copy(path, raw)
    runner = CliRunner()
    assert runner.invoke(app, ["prepare", "ntu60", "--raw", str(raw), "--out", str(tmp_path / "data")]).exit_code == 0
    first = sorted(raw.iterdir())[0]
    first.write_bytes(first.read_bytes() + b"\n")                       # the raw file changed since prepare
    r = runner.invoke(app, ["export", "ctrgcn", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "sha256 differs from the one recorded by prepare" in r.output
    r = runner.invoke(app, ["export", "ctrgcn", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--workers", "2"])
    assert r.exit_code == 2 and f"{first}: sha256 differs" in r.output          # raised in a worker, named here
    assert not (tmp_path / "out").exists()                                     # failed in pass 1: nothing made
    first.write_bytes(first.read_bytes()[:-1])
    # a failure while the .npz is being written (here: the 9th sample read) removes the partial file
    from gltr.export import ctrgcn
    real_sequence, calls = ctrgcn.sequence, {"n": 0}

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 9:
            raise ValueError("disk trouble")
        return real_sequence(*args)
    monkeypatch.setattr(ctrgcn, "sequence", failing)
    with pytest.raises(ValueError, match="disk trouble"):
        ctrgcn.export_ctrgcn(tmp_path / "data", tmp_path / "out2", log=lambda line: None)
    assert calls["n"] == 9 and not (tmp_path / "out2").exists()          # no partial file, no folder left
