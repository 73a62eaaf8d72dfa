"""Bad raw files and careless prepare runs: a damaged, odd or hostile raw file fails alone with one reason, the
run goes on, and prepare never replaces or follows what it did not make (synthetic data only)."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from gltr.pipeline.prepare import prepare
from gltr.pipeline.synth import synth_ntu
from helpers import GLTR, gltr, one_error_line


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


def test_a_coordinate_near_the_float32_limit_fails_its_file(tmp_path):
    paths = synth_ntu(tmp_path / "raw", 3, seed=1, classes=3)
    lines = paths[0].read_bytes().split(b"\n")
    for line, value in ((4, b"3e38"), (24, b"-3e38")):                        # joint 1 and the centre joint 21
        fields = lines[line].split(b" ")
        fields[0] = value                                                      # finite in float32; differences are not
        lines[line] = b" ".join(fields)
    paths[0].write_bytes(b"\n".join(lines))
    report = prepare("ntu120", tmp_path / "raw", tmp_path / "out", log=lambda line: None)
    assert [f["file"] for f in report["failed"]] == [paths[0].name]
    assert "beyond ±100 m" in report["failed"][0]["reason"]               # before any difference overflows


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


def test_names_are_ascii_and_numbers_follow_strict_rules(tmp_path):
    from gltr.pipeline.names import parse_ntu_name, parse_ucla_name
    from gltr.pipeline.ntu_reader import SkeletonError, parse_skeleton
    assert parse_ntu_name("S001C001P002R001A\u0660\u0660\u0669") is None            # Arabic-Indic digits
    assert parse_ucla_name("a\u0661\u0662_s01_e00_v01") is None
    assert parse_ntu_name("S001C001P002R001A009\n") is None                      # no trailing newline either
    path = synth_ntu(tmp_path / "raw", 1, seed=0, classes=1)[0]
    text = path.read_bytes()
    for bad in (b"1_0" + text[text.index(b"\n"):], b"+" + text):                # int() would take both
        with pytest.raises(SkeletonError, match="expected frame count"):
            parse_skeleton(bad)


def test_a_non_utf8_path_fails_its_file_and_the_run_goes_on(tmp_path):
    raw = tmp_path / "raw"
    paths = synth_ntu(raw, 3, seed=0, classes=3)
    bad = os.fsencode(raw) + b"/caf\xe9"
    os.mkdir(bad)
    os.rename(paths[0], bad + b"/" + os.fsencode(paths[0].name))
    report = prepare("ntu120", raw, tmp_path / "out", log=lambda line: None)
    assert report["counts"]["prepared"] == 2
    assert [f["reason"] for f in report["failed"]] == ["its path is not valid UTF-8: rename it to prepare it"]
    assert (tmp_path / "out/prepare.json").exists() and not (tmp_path / "out.partial").exists()


def test_a_raw_file_swapped_for_a_fifo_fails_instead_of_hanging(tmp_path):
    from gltr.pipeline.sample import SampleError, read_raw
    os.mkfifo(tmp_path / "S001C001P001R001A001.skeleton")
    started = time.perf_counter()
    with pytest.raises(SampleError, match="not a regular file"):
        read_raw(tmp_path / "S001C001P001R001A001.skeleton")
    assert time.perf_counter() - started < 2


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


def test_a_symlinked_prepare_out_is_refused(tmp_path):
    raw = tmp_path / "raw"
    synth_ntu(raw, 2, seed=0, classes=2)
    first = tmp_path / "real"
    prepare("ntu120", raw, first, log=lambda line: None)
    os.symlink(first, tmp_path / "link")
    r = gltr("prepare", "ntu120", "--raw", raw, "--out", tmp_path / "link", "--overwrite")
    assert "symbolic link" in one_error_line(r, 2)
    assert (tmp_path / "link").is_symlink() and (first / "prepare.json").exists()


def test_prepare_workers_die_with_their_parent(tmp_path):
    raw = tmp_path / "raw"
    synth_ntu(raw, 400, seed=0, classes=6)
    proc = subprocess.Popen(GLTR + ["prepare", "ntu120", "--raw", str(raw), "--out", str(tmp_path / "out"),
                                    "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    children = []
    while time.time() < deadline and len(children) < 2:
        children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == proc.pid]
        time.sleep(0.1)
    assert len(children) >= 2, "the workers did not start"
    proc.kill()
    proc.wait()
    time.sleep(1.0)
    assert [c for c in children if _alive(c)] == []                             # no orphan keeps working
    text = (tmp_path / "out.lock").read_text()
    assert text.startswith(f"gltr lock pid {proc.pid} prepare")                # the lock names its holder


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


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
