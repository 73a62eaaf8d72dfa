import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import zarr

from gltr.pipeline.prepare import prepare
from gltr.pipeline.verify import verify

GLTR = [sys.executable, "-m", "gltr.cli.main"]


def tree_hashes(root: Path) -> dict:
    import hashlib
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "prepare.json"}


def report_without_run(root: Path) -> dict:
    report = json.loads((root / "prepare.json").read_text())
    report.pop("run")
    return report


def test_nwucla_prepares_to_the_standard_split(ucla_prepared):
    report = json.loads((ucla_prepared / "prepare.json").read_text())
    assert report["counts"]["prepared"] == 1484 and report["counts"]["failed"] == 0
    assert report["splits"] == {"view": {"train": 1020, "test": 464}}
    assert report["variant"]["centre_joint"] == 2 and report["variant"]["t_max"] == 50
    manifest = pq.read_table(ucla_prepared / "manifest.parquet").to_pydict()
    assert max(manifest["length"]) == 50 and min(manifest["length"]) >= 1
    assert sorted(set(manifest["label"])) == list(range(10))
    assert all((v == 3) == (s == "test") for v, s in zip(manifest["view"], manifest["split_view"]))
    assert verify(ucla_prepared) == []


STOCK_READER = r'''
import io, json, sys
import numpy as np, pyarrow.parquet as pq, webdataset as wds, zarr
root = sys.argv[1]
store = zarr.open_group(f"{root}/store.zarr", mode="r")
manifest = pq.read_table(f"{root}/manifest.parquet").to_pydict()
row = {sid: i for i, sid in enumerate(manifest["sample_id"])}
offsets = store["offsets"][:]
motion, direction, magnitude = store["motion"], store["mpdp_direction"], store["mpdp_magnitude"]
seen = 0
for bench in store.attrs["variant"] and json.load(open(f"{root}/prepare.json"))["splits"]:
    for split in ("train", "test"):
        index = json.load(open(f"{root}/shards/{bench}/{split}.json"))
        urls = [f"{root}/shards/{bench}/{s['name']}" for s in index["shards"]]
        n = 0
        for s in wds.WebDataset(urls, shardshuffle=False).decode():
            i = row[s["__key__"]]
            a, b = offsets[i], offsets[i + 1]
            assert b - a == manifest["length"][i] == s["json"]["length"]
            assert np.array_equal(s["motion.npy.gz"], motion[a:b])
            assert sorted(k for k in s if not k.startswith("__")) == ["cls", "json", "motion.npy.gz"]
            assert direction[a:b].shape[0] == magnitude[a:b].shape[0] == b - a   # the MPDP labels: in the store
            assert int(s["cls"]) == manifest["label"][i]
            n += 1
        assert n == index["num_samples"], (n, index["num_samples"])
        seen += n
assert "gltr" not in sys.modules and not any(m.startswith("gltr.") for m in sys.modules)
print("read", seen)
'''


def test_stock_libraries_read_everything_without_gltr(synth_ntu_prepared, tmp_path):
    script = tmp_path / "reader.py"
    script.write_text(STOCK_READER)
    result = subprocess.run([sys.executable, str(script), str(synth_ntu_prepared)], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "read 120"          # 60 samples x 2 benchmarks


def test_same_output_for_one_and_two_workers_and_two_runs(synth_ntu_raw, synth_ntu_prepared, tmp_path):
    again = prepare("ntu120", synth_ntu_raw, tmp_path / "w2", workers=2, shard_size=16, log=lambda l: None)
    assert again["counts"]["prepared"] == 60
    assert tree_hashes(tmp_path / "w2") == tree_hashes(synth_ntu_prepared)
    assert report_without_run(tmp_path / "w2") == report_without_run(synth_ntu_prepared)


def test_synthetic_ntu_prepares_whole(synth_ntu_prepared):
    report = json.loads((synth_ntu_prepared / "prepare.json").read_text())
    assert report["counts"]["prepared"] == 60 and report["counts"]["failed"] == 0
    manifest = pq.read_table(synth_ntu_prepared / "manifest.parquet").to_pydict()
    assert sorted(set(manifest["label"])) == list(range(6))
    assert max(manifest["raw_bodies"]) >= 2


def test_resume_after_kill_gives_identical_output(tmp_path):
    from gltr.pipeline.synth import synth_nwucla
    raw = tmp_path / "raw"
    synth_nwucla(raw, 600, seed=0)
    reference = tmp_path / "reference"
    prepare("nwucla", raw, reference, workers=1, log=lambda line: None)
    out = tmp_path / "nwucla"
    proc = subprocess.Popen(GLTR + ["prepare", "nwucla", "--raw", str(raw), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = tmp_path / "nwucla.partial" / "shards" / "view" / "train-000000.tar"
    deadline = time.time() + 60
    while not partial.exists() and time.time() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert partial.parent.exists() and not out.exists()       # a partial output never looks complete
    result = subprocess.run(GLTR + ["prepare", "nwucla", "--raw", str(raw), "--out", str(out),
                                    "--workers", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "nwucla.partial").exists()
    assert tree_hashes(out) == tree_hashes(reference)
    assert report_without_run(out)["files"] == report_without_run(reference)["files"]


def synth_files(root: Path, names: list) -> list[bytes]:
    """Well-formed NTU files (`gltr synth`) under the given names in `root`; returns their bytes."""
    from gltr.pipeline.synth import synth_ntu
    made = synth_ntu(root / ".synth", len(names), seed=1, classes=1)
    data = [p.read_bytes() for p in made]
    shutil.rmtree(root / ".synth")
    root.mkdir(parents=True, exist_ok=True)
    for name, d in zip(names, data):
        (root / f"{name}.skeleton").write_bytes(d)
    return data


def bad_raw_folder(root: Path) -> dict:
    """Good files plus one file per kind of damage (all built with `gltr synth`); returns {file: expected reason}."""
    good = synth_files(root / "a", ["S001C001P001R001A001", "S001C001P001R001A050", "S017C003P020R002A054",
                                    "S001C003P002R002A001", "S001C002P006R001A008"])[0]   # the last: on the missing list
    lines = good.split(b"\n")
    (root / "b").mkdir()
    shutil.copy(root / "a/S001C001P001R001A001.skeleton", root / "b")                          # duplicate
    (root / "b/S001C001P001R001A012.skeleton").write_bytes(b"\n".join(lines[:5] + [lines[5] + b" 7"] + lines[6:]))
    damaged = {
        "S001C001P001R001A013": b"\n".join(lines[:10]) + b"\n",                   # ends mid-frame
        "S001C001P001R001A014": b"",
        "S001C001P001R001A015": b"\n".join(lines[:3] + [b"24"] + lines[4:]),
        "S001C001P001R001A016": b"\n".join(lines[:7] + [b"0.1 0.2 zz 1 2 3 4 0 0 0 0 2"] + lines[8:]),
        "S001C001P001R001A017": bytes(range(256)) * 40,
    }
    for name, data in damaged.items():
        (root / "b" / f"{name}.skeleton").write_bytes(data)
    (root / "b" / "notes_copy.skeleton").write_bytes(good)
    (root / "b" / "S018C001P001R001A001.skeleton").write_bytes(good)                           # NTU-120 only
    return {
        "b/S001C001P001R001A012.skeleton": "line 6: 13 fields, expected 12",
        "b/S001C001P001R001A013.skeleton": "truncated",
        "b/S001C001P001R001A014.skeleton": "empty file",
        "b/S001C001P001R001A015.skeleton": "line 4: joint count 24, expected 25",
        "b/S001C001P001R001A016.skeleton": "line 8: non-numeric token b'zz'",
        "b/S001C001P001R001A017.skeleton": "binary data",
        "b/notes_copy.skeleton": "bad file name",
    }


def test_bad_inputs_are_reported_skipped_and_fail_the_exit_status(tmp_path):
    expected = bad_raw_folder(tmp_path / "raw")
    out = tmp_path / "out"
    result = subprocess.run(GLTR + ["prepare", "ntu60", "--raw", str(tmp_path / "raw"), "--out", str(out)],
                            capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    report = json.loads((out / "prepare.json").read_text())
    reasons = {f["file"]: f["reason"] for f in report["failed"]}
    assert set(reasons) == set(expected)
    for file, why in expected.items():
        assert why in reasons[file], (file, reasons[file])
        line = next(l for l in result.stderr.splitlines() if file in l)   # one clear line per file
        assert why.split(":")[0] in line
    assert report["counts"]["prepared"] == 4
    assert report["counts"]["missing_skeleton"] == 1 and report["missing_skeleton"] == ["S001C002P006R001A008"]
    assert report["duplicates"] == [{"file": "b/S001C001P001R001A001.skeleton",
                                     "duplicate_of": "a/S001C001P001R001A001.skeleton"}]
    assert report["counts"]["out_of_scope"] == 1
    assert verify(out) == []


def test_only_missing_list_skips_keep_exit_status_zero(tmp_path):
    raw = tmp_path / "raw"
    synth_files(raw, ["S001C001P001R001A001", "S001C002P005R002A008"])     # the second is on the missing list
    result = subprocess.run(GLTR + ["prepare", "ntu120", "--raw", str(raw), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "o/prepare.json").read_text())
    assert report["counts"]["prepared"] == 1 and report["failed"] == []             # a skip is not a failure
    assert report["counts"]["missing_skeleton"] == 1 and report["missing_skeleton"] == ["S001C002P005R002A008"]
    manifest = pq.read_table(tmp_path / "o/manifest.parquet").column("sample_id").to_pylist()
    assert manifest == ["S001C001P001R001A001"]                                     # skipped, not prepared


def test_verify_finds_a_corrupted_shard(synth_ntu_prepared, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(synth_ntu_prepared, copy)
    shard = copy / "shards/xsub/train-000000.tar"
    data = bytearray(shard.read_bytes())
    data[1000] ^= 0xFF
    shard.write_bytes(bytes(data))
    (copy / "store.zarr/motion/zarr.json").unlink()
    problems = verify(copy)
    assert any("train-000000.tar: sha256 differs" in p for p in problems)
    assert any("motion/zarr.json: missing" in p for p in problems)
    result = subprocess.run(GLTR + ["verify", str(copy)], capture_output=True, text=True)
    assert result.returncode == 1 and "train-000000.tar" in result.stderr


def test_refuses_to_overwrite_without_the_flag(synth_ntu_raw, synth_ntu_prepared):
    result = subprocess.run(GLTR + ["prepare", "ntu120", "--raw", str(synth_ntu_raw), "--out", str(synth_ntu_prepared)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--overwrite" in result.stderr and "Traceback" not in result.stderr


def test_inspect_reports_counts(synth_ntu_prepared):
    from gltr.pipeline.inspect import summarize
    s = summarize(synth_ntu_prepared)
    assert sum(s["per_class"]["xsub/train"]) + sum(s["per_class"]["xsub/test"]) == 60
    assert sum(b["count"] for b in s["length"]["histogram"]) == 60
    result = subprocess.run(GLTR + ["inspect", str(synth_ntu_prepared)], capture_output=True, text=True)
    assert result.returncode == 0 and "xsub/train" in result.stdout


def absurd_raw(dataset: str, raw: Path, value: float) -> str:
    """A synthetic raw folder of `dataset` whose first sample holds `value` in one hand joint (not the centre, not
    a shoulder: nothing but the bound notices it); returns the failure key that sample gets in the report."""
    from gltr.pipeline.synth import synth_ntu, synth_nwucla, synth_pku
    if dataset == "ntu120":
        path = synth_ntu(raw, 3, seed=1, classes=3)[0]
        lines = path.read_bytes().split(b"\n")
        lines[11] = b" ".join([str(value).encode()] + lines[11].split(b" ")[1:])    # frame 1, body 1, joint 8
        path.write_bytes(b"\n".join(lines))
        return path.name
    if dataset == "nwucla":
        path = synth_nwucla(raw, 3, seed=1, classes=3)[0]
        record = json.loads(path.read_text())
        record["skeletons"][0][7][0] = value
        path.write_text(json.dumps(record))
        return path.name
    path = synth_pku(raw, 3, seed=1)[0]
    lines = path.read_bytes().split(b"\n")
    start = int((raw / "label" / path.name).read_text().split(",")[1])
    fields = lines[start].split()
    fields[21] = str(value).encode()                                                   # person 1, joint 8, x
    lines[start] = b" " + b" ".join(fields)
    path.write_bytes(b"\n".join(lines))
    return f"skeleton/{path.name} (label row 1)"


@pytest.mark.parametrize("dataset", ["ntu120", "nwucla", "pkummd2"])
def test_a_physically_absurd_coordinate_fails_its_sample(dataset, tmp_path):
    """One shared bound (COORD_MAX_M) on every dataset: 3e38 in one joint fails the sample, naming the value;
    a far but possible 99 m prepares, with finite motion (trajectory slot included)."""
    from gltr.pipeline.sample import COORD_MAX_M
    failing = absurd_raw(dataset, tmp_path / "raw", 3e38)
    report = prepare(dataset, tmp_path / "raw", tmp_path / "out", log=lambda line: None)
    assert [f["file"] for f in report["failed"]] == [failing]
    assert report["failed"][0]["reason"].startswith(f"a coordinate of 3e+38 (body 1, joint 8) is beyond "
                                                    f"±{COORD_MAX_M:g} m")
    absurd_raw(dataset, tmp_path / "raw2", COORD_MAX_M - 1)
    report = prepare(dataset, tmp_path / "raw2", tmp_path / "out2", log=lambda line: None)
    assert report["counts"]["failed"] == 0
    motion = np.asarray(zarr.open_group(str(tmp_path / "out2" / "store.zarr"), mode="r")["motion"])
    assert np.isfinite(motion).all() and np.abs(motion).max() < 4 * COORD_MAX_M
