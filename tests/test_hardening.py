"""Garbage never trains silently: float32 overflow fails the file, a non-finite loss stops training
before anything is saved (synthetic data: these run without ../shared/data)."""
import json

import pytest
import torch

from gltr.pipeline.prepare import prepare
from gltr.pipeline.synth import synth_ntu


def test_a_coordinate_that_overflows_float32_fails_its_file(tmp_path):
    paths = synth_ntu(tmp_path / "raw", 3, seed=1, classes=3)
    lines = paths[0].read_bytes().split(b"\n")
    fields = lines[4].split(b" ")            # frame 1, body 1, joint 1 (line 5)
    fields[0] = b"1e39"                       # finite in float64, inf in float32
    lines[4] = b" ".join(fields)
    paths[0].write_bytes(b"\n".join(lines))
    report = prepare("ntu120", tmp_path / "raw", tmp_path / "out", log=lambda line: None)
    assert report["counts"]["prepared"] == 2
    assert [f["file"] for f in report["failed"]] == [paths[0].name]
    assert "does not fit float32" in report["failed"][0]["reason"]


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(synth_ntu_prepared, tmp_path, monkeypatch):
    from gltr.train import pretrain
    real_loss, calls = pretrain.mpdp_loss, {"n": 0}

    def loss_that_breaks(*args, **kw):
        calls["n"] += 1
        value, terms = real_loss(*args, **kw)
        return (value * float("nan") if calls["n"] > 7 else value), terms     # epoch 0 has 5 batches of 8

    monkeypatch.setattr(pretrain, "mpdp_loss", loss_that_breaks)
    cfg = pretrain.PretrainConfig(data=str(synth_ntu_prepared), benchmark="xsub", out=str(tmp_path / "run"),
                                  preset="tiny", epochs=3, batch_size=8, lr=1e-3, workers=0)
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        pretrain.train(cfg)
    meta = json.loads((tmp_path / "run/checkpoints/latest.json").read_text())
    assert meta["loader"] == {"epoch": 1, "batch": 0, "workers": 0}          # saved after epoch 0, nothing later
    state = torch.load(tmp_path / "run/checkpoints/latest.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_ntu_names_with_out_of_range_fields_fail_their_file(tmp_path):
    from gltr.pipeline.discover import discover
    paths = synth_ntu(tmp_path / "raw", 1, seed=2, classes=1)
    good = paths[0].read_bytes()
    bad = {"S001C001P001R001A121": "action 121", "S001C001P001R001A000": "action 0", "S000C001P001R001A001": "setup 0",
           "S001C004P001R001A001": "camera 4", "S001C001P000R001A001": "subject 0", "S033C001P001R001A001": "setup 33"}
    for name in bad:
        (tmp_path / "raw" / f"{name}.skeleton").write_bytes(good)
    found = discover("ntu120", tmp_path / "raw")
    reasons = {f["file"][:20]: f["reason"] for f in found.failed}
    assert set(reasons) == set(bad) and [t.sample_id for t in found.tasks] == [paths[0].stem]
    for name, why in bad.items():
        assert reasons[name].startswith(why + " out of range"), reasons[name]
    assert all(0 <= t.label < 120 for t in found.tasks)


def test_run_folders_are_never_mixed_up(synth_ntu_prepared, tmp_path):
    from gltr.train.pretrain import PretrainConfig, train
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", out=str(tmp_path / "run"), preset="tiny", epochs=1,
                  batch_size=8, lr=1e-3, workers=0, max_steps=2)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):          # a mistyped --out does not start afresh
        train(PretrainConfig(resume=True, **common))
    (tmp_path / "run").mkdir()
    (tmp_path / "run/notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        train(PretrainConfig(**common))
    train(PretrainConfig(overwrite=True, **common))
    train(PretrainConfig(overwrite=True, **{**common, "max_steps": 1}))
    steps = [json.loads(l)["step"] for l in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert steps == [1]                                                     # no stale records appended
    assert (tmp_path / "run/notes.txt").read_text() == "mine"               # only a run's own files are replaced
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == ["latest.json", "latest.pt"]


def test_a_benchmark_must_be_one_of_the_datasets_own(synth_ntu_prepared):
    from gltr.train.prepared import read_index
    assert read_index(synth_ntu_prepared, "xsub", "train")["benchmark"] == "xsub"
    with pytest.raises(ValueError, match="is not a valid benchmark name"):
        read_index(synth_ntu_prepared, "../../other/shards/xsub", "train")
    with pytest.raises(FileNotFoundError):
        read_index(synth_ntu_prepared, "view", "train")


def test_file_names_are_printed_as_they_are_never_as_markup(tmp_path):
    import os
    import subprocess
    import sys
    paths = synth_ntu(tmp_path / "raw", 1, seed=3, classes=1)
    (tmp_path / "raw/[").mkdir()
    for name in ("[/yellow].skeleton", "[bold]x.skeleton"):                 # the first is a folder "[" and a file
        (tmp_path / "raw" / name).write_bytes(paths[0].read_bytes())
    result = subprocess.run([sys.executable, "-m", "gltr.cli.main", "prepare", "ntu120", "--raw", str(tmp_path / "raw"),
                             "--out", str(tmp_path / "[red]out")], capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "250"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "[/yellow].skeleton: bad file name" in result.stderr and "[bold]x.skeleton: bad file name" in result.stderr
    assert "[red]out" in result.stdout + result.stderr


def test_prepare_never_replaces_what_it_did_not_make(tmp_path):
    import fcntl
    raw = tmp_path / "raw"
    synth_ntu(raw, 4, seed=4, classes=2)
    before = sorted(p.name for p in raw.iterdir())
    for out in (raw, tmp_path, raw / "inside"):                                 # --out is --raw, above it, inside it
        with pytest.raises(ValueError, match="inside or above --raw"):
            prepare("ntu120", raw, out, overwrite=True, log=lambda line: None)
    assert sorted(p.name for p in raw.iterdir()) == before
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="not a gltr output"):
        prepare("ntu120", raw, foreign, overwrite=True, log=lambda line: None)
    assert (foreign / "thesis.tex").read_text() == "years of work"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        prepare("ntu120", raw, tmp_path / "afile", overwrite=True, log=lambda line: None)
    out = tmp_path / "out"
    first = prepare("ntu120", raw, out, log=lambda line: None)
    with open(tmp_path / "out.lock", "w") as held:                              # another run holds the output
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(FileExistsError, match="another gltr prepare"):
            prepare("ntu120", raw, out, overwrite=True, log=lambda line: None)
    second = prepare("ntu120", raw, out, overwrite=True, log=lambda line: None)   # a gltr output: replaced
    assert second["files"] == first["files"] and not list(tmp_path.glob("out.replaced-*"))
    assert not (tmp_path / "out.partial").exists()


def test_verify_reports_a_broken_report_missing_files_and_stray_folders(synth_ntu_prepared, tmp_path):
    import shutil
    import subprocess
    import sys
    from gltr.pipeline.verify import verify
    copy = tmp_path / "copy"
    shutil.copytree(synth_ntu_prepared, copy)
    assert verify(copy) == []
    (copy / "shards/xsub/extra").mkdir()
    (copy / "manifest.parquet").unlink()
    assert verify(copy) == ["manifest.parquet: missing", "shards/xsub/extra/: a folder prepare did not write"]
    result = subprocess.run([sys.executable, "-m", "gltr.cli.main", "verify", str(copy)], capture_output=True, text=True)
    assert result.returncode == 1 and f"{copy}/manifest.parquet: missing" in result.stderr      # the path once, not twice
    for text in ("", "{not json", "[]", '{"files": 3}'):
        (copy / "prepare.json").write_text(text)
        problems = verify(copy)
        assert len(problems) == 1 and problems[0].startswith("prepare.json: not a gltr report (")
        result = subprocess.run([sys.executable, "-m", "gltr.cli.main", "verify", str(copy)], capture_output=True, text=True)
        assert result.returncode == 1 and "Traceback" not in result.stderr


def test_a_checkpoint_is_one_atomic_commit_and_is_checked_on_load(synth_ntu_prepared, tmp_path):
    import shutil
    from gltr.train import checkpoint
    from gltr.train.pretrain import PretrainConfig, train
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", preset="tiny", epochs=2, batch_size=8, lr=1e-3,
                  workers=0)
    train(PretrainConfig(out=str(tmp_path / "a"), max_steps=3, **common))
    ckpt = tmp_path / "a/checkpoints"
    stale = (ckpt / "latest.json").read_text()                       # step 3
    train(PretrainConfig(out=str(tmp_path / "a"), max_steps=6, resume=True, **common))
    (ckpt / "latest.json").write_text(stale)                          # a stop between the .pt and .json renames
    state, meta = checkpoint.load(ckpt / "latest.pt")
    assert meta["step"] == 6                                           # the .pt is the authority, not the stale mirror
    # resuming from it continues from step 6, not 3: no epoch is replayed
    train(PretrainConfig(out=str(tmp_path / "a"), max_steps=8, resume=True, **common))
    steps = [json.loads(l)["step"] for l in (tmp_path / "a/metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 8
    # a damaged .pt whose mirror names the same step is refused with a clear error
    shutil.copy(ckpt / "latest.pt", tmp_path / "copy.pt")
    good = (ckpt / "latest.pt").read_bytes()
    for at, message in ((len(good) // 2, "digest"), (len(good) - 100, "cannot be read")):   # in a tensor; in the zip index
        data = bytearray(good)
        data[at] ^= 0xFF
        (ckpt / "latest.pt").write_bytes(bytes(data))
        with pytest.raises(ValueError, match=message):
            checkpoint.load(ckpt / "latest.pt")
        (ckpt / "latest.json").rename(tmp_path / "mirror.json")       # the check does not depend on the mirror
        with pytest.raises(ValueError, match=message):
            checkpoint.load(ckpt / "latest.pt")
        (tmp_path / "mirror.json").rename(ckpt / "latest.json")
    (ckpt / "latest.pt").write_bytes(good)
    # a checkpoint written before the meta moved into the .pt still loads, from its JSON
    state = torch.load(tmp_path / "copy.pt", weights_only=True)
    state.pop("meta")
    torch.save(state, ckpt / "old.pt")
    (ckpt / "old.json").write_text((ckpt / "latest.json").read_text().replace(
        json.loads((ckpt / "latest.json").read_text())["weights_sha256"], checkpoint.sha256_file(ckpt / "old.pt")))
    assert checkpoint.load(ckpt / "old.pt")[1]["step"] == 8
    (ckpt / "old.json").unlink()                                       # ... and without that mirror it is refused
    with pytest.raises(FileNotFoundError, match="no meta inside"):
        checkpoint.load(ckpt / "old.pt")


def test_link_loops_and_fifos_do_not_hang_prepare(tmp_path):
    import os
    raw = tmp_path / "raw"
    synth_ntu(raw, 2, seed=5, classes=2)
    os.symlink(".", raw / "loop1")
    os.symlink(".", raw / "loop2")
    os.symlink(raw, raw / "up")
    os.mkfifo(raw / "S001C001P001R001A009.skeleton")
    report = prepare("ntu120", raw, tmp_path / "out", log=lambda line: None)      # returns (no hang)
    assert report["counts"]["prepared"] == 2 and report["counts"]["duplicates"] == 0
    assert report["failed"] == [{"file": "S001C001P001R001A009.skeleton",
                                 "reason": "not a regular file (FIFO, socket or device)"}]


def test_ntu_bom_tabs_and_double_spaces_read_like_the_plain_file(tmp_path):
    from gltr.pipeline.ntu_reader import SkeletonError, parse_skeleton
    plain = synth_ntu(tmp_path / "raw", 1, seed=6, classes=1)[0].read_bytes().replace(b"\r\n", b"\n")
    reference = parse_skeleton(plain).joints
    lines = plain.split(b"\n")
    for variant in (b"\xef\xbb\xbf" + plain,                                          # UTF-8 BOM
                    b"\n".join(l.replace(b" ", b"\t") for l in lines),                # tab-separated
                    b"\n".join(l.replace(b" ", b"  ") for l in lines)):               # double spaces
        assert (parse_skeleton(variant).joints == reference).all()
    broken = list(lines)
    broken[7] = broken[7].replace(b" ", b"\t", 1) + b"\t7"                             # a 13th field, tab-separated
    with pytest.raises(SkeletonError, match="line 8: 13 fields"):
        parse_skeleton(b"\n".join(broken))


@pytest.mark.parametrize("record, why", [
    ({"skeletons": [[[0.1, 0.2, "0.3"]] * 20] * 5, "label": 1}, "not a number"),
    ({"skeletons": [[[0.1, True, 0.3]] * 20] * 5, "label": 1}, "not a number"),
    ({"skeletons": [[[0.1, None, 0.3]] * 20] * 5, "label": 1}, "not a number"),
    ({"skeletons": [[[0.1, 0.2, 0.3]] * 20] * 5, "label": "1"}, "not an integer"),
    ({"skeletons": [[[0.1, 0.2, 0.3]] * 19] * 5, "label": 1}, "expected [frames, 20, 3]"),
    ({"skeletons": "none"}, "expected [frames, 20, 3]"),
    ([1, 2], "no 'skeletons' key"),
])
def test_nwucla_values_must_be_numbers_and_labels_integers(tmp_path, record, why):
    from gltr.pipeline.sample import SampleError, read_ucla
    from gltr.datasets import make_variant
    path = tmp_path / "a01_s01_e00_v01.json"
    path.write_text(json.dumps(record))
    with pytest.raises(SampleError) as caught:
        read_ucla(path, make_variant("nwucla"), 0)
    assert why in str(caught.value)
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"skeletons": [[[0.1, 0.2, 0.3]] * 20] * 5, "label": 1}).encode())
    assert read_ucla(path, make_variant("nwucla"), 0).motion.shape == (5, 1, 20, 3)      # a BOM is fine


@pytest.mark.parametrize("world", [2, 3])
def test_no_rank_ever_gets_an_empty_batch(tmp_path, world):
    from gltr.train.data import LoaderConfig, ShardLoader
    synth_ntu(tmp_path / "raw", 7, seed=7, classes=7)
    prepare("ntu120", tmp_path / "raw", tmp_path / "data", shard_size=2, log=lambda line: None)
    counts = []
    for rank in range(world):
        loader = ShardLoader(tmp_path / "data", "xset", "train", LoaderConfig(batch_size=1, workers=0), rank, world)
        sizes = [len(b["key"]) for b in loader.epoch(0)]
        assert sizes and min(sizes) >= 1, sizes
        counts.append(len(sizes))
    assert len(set(counts)) == 1                                           # DDP: the same number of steps everywhere
    with pytest.raises(ValueError, match="every process needs at least one"):
        ShardLoader(tmp_path / "data", "xset", "train", LoaderConfig(batch_size=1, workers=0), 0, 64)


def test_a_damaged_first_copy_gives_way_to_a_good_duplicate(tmp_path):
    raw = tmp_path / "raw"
    good = synth_ntu(raw / "b", 1, seed=8, classes=1)[0]
    (raw / "a").mkdir()
    (raw / "a" / good.name).write_bytes(good.read_bytes()[:500])                 # truncated, and found first
    (raw / "c").mkdir()
    (raw / "c" / good.name).write_bytes(good.read_bytes())
    report = prepare("ntu120", raw, tmp_path / "out", log=lambda line: None)
    assert report["counts"]["prepared"] == 1 and report["counts"]["failed"] == 0
    a, b, c = (f"{d}/{good.name}" for d in "abc")
    assert report["duplicates"][0]["file"] == a and report["duplicates"][0]["duplicate_of"] == b
    assert "truncated" in report["duplicates"][0]["damaged"]
    assert report["duplicates"][1] == {"file": c, "duplicate_of": b}
    import pyarrow.parquet as pq
    assert pq.read_table(tmp_path / "out/manifest.parquet").column("source").to_pylist() == [b]


def test_a_changed_shard_never_trains_and_a_crafted_header_never_hangs(synth_ntu_prepared, tmp_path):
    import shutil
    import subprocess
    import sys
    copy = tmp_path / "data"
    shutil.copytree(synth_ntu_prepared, copy)
    shard = copy / "shards/xsub/train-000000.tar"
    data = bytearray(shard.read_bytes())
    data[2000] ^= 0x01                                                        # one flipped bit
    shard.write_bytes(bytes(data))
    result = subprocess.run([sys.executable, "-m", "gltr.cli.main", "pretrain", "--data", str(copy), "--benchmark", "xsub",
                             "--preset", "tiny", "--epochs", "1", "--batch-size", "8", "--workers", "1",
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "sha256 differs from its index" in result.stderr
    assert not (tmp_path / "run/checkpoints").exists()                         # nothing saved from garbage
    # a size field of -512 (with a correct checksum) used to loop a hand-written reader forever; webdataset's
    # tar stages, pushed a plain list as its own tests do, end at once, and the empty member fails decoding
    import io
    from webdataset.tariterators import group_by_keys, tar_file_expander
    from gltr.train.decoders import decode, gunzipped
    header = bytearray(synth_ntu_prepared.joinpath("shards/xsub/train-000000.tar").read_bytes()[:512 * 4])
    header[124:136] = b"-0001000\0\0\0\0"
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header[:512])
    samples = list(group_by_keys(tar_file_expander([{"url": "crafted.tar", "stream": io.BytesIO(bytes(header))}])))
    assert [s["motion.npy.gz"] for s in samples] == [b""]
    with pytest.raises(ValueError, match=r"crafted.tar: sample 'S\w+': its motion.npy.gz member is not a whole gzip stream"):
        list(decode(gunzipped(samples)))


def test_an_installed_wheel_carries_the_manifests(tmp_path):
    """`pip install .` (not editable) must find split rules and sample lists: they ship as package data."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel"), str(root)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "wheel").glob("gltr-*.whl"))
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    probe = ("import gltr, gltr.pipeline.names as n, gltr.pipeline.sample_lists as s;"
             "print(gltr.__file__);"
             "print(n.split_rules()['nwucla']['view']['train'], len(n.missing_list('ntu120')),"
             " len(s.read_list('ntu60', 'xsub', 5, 0)[0]), len(s.read_validation('nwucla', 'view')[0]))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    where, numbers = result.stdout.splitlines()
    assert where.startswith(str(tmp_path / "site"))                       # the installed copy, not the checkout
    assert numbers == "[1, 2] 535 1980 191"
