"""PKU-MMD Phase I / II: the reader on the real Phase II sequence, prepare end to end, the stock readers,
`gltr export mamp` against MAMP's script written out (tests/naive.py), and bad inputs."""
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import zarr

from gltr.datasets import Variant, make_variant
from gltr.export.mamp import export_mamp
from gltr.pipeline.pku import (ALL_ZERO, MAX_COVER, PkuError, overlap_problem, parse_labels, parse_sequence,
                               read_split)
from gltr.pipeline.prepare import exit_status, prepare
from gltr.pipeline.synth import synth_pku
from gltr.pipeline.verify import verify
from naive import mamp_gendata, mamp_one_hot

REAL_ROWS = "10,12,150,1\n10,160,300,2\n10,310,700,1\n10,720,1039,1\n"     # official format, our own rows


def real_tree(real: Path, root: Path, labels: str = REAL_ROWS) -> Path:
    """The real Phase II sequence with a label file and split files written in the official format."""
    src = real / "pku_mmd" / "v2" / "skeleton" / "A10N08-L.txt"
    (root / "skeleton").mkdir(parents=True)
    (root / "label").mkdir()
    shutil.copy(src, root / "skeleton" / src.name)
    (root / "label" / src.name).write_text(labels)
    (root / "cross_subject_v2.txt").write_text("Training videos: \nA10N08-L, A01N01-M\nValidataion videos: \n\n")
    (root / "cross_view_v2.txt").write_text("Training videos: \nA01N01-M\nValidataion videos: \nA10N08-L\n")
    return root


@pytest.fixture(scope="module")
def real_pku(real, tmp_path_factory):
    root = real_tree(real, tmp_path_factory.mktemp("pku_raw") / "v2")
    out = tmp_path_factory.mktemp("pku") / "pkummd2"
    report = prepare("pkummd2", root, out, log=lambda line: None)
    return root, out, report


def test_parse_real_sequence_equals_loadtxt(real):
    data = (real / "pku_mmd" / "v2" / "skeleton" / "A10N08-L.txt").read_bytes()
    x = parse_sequence(data)
    expected = np.loadtxt(io.BytesIO(data)).astype(np.float32)       # MAMP's parse, as it is stored
    assert x.dtype == np.float32 and x.shape == (1040, 150)
    assert np.array_equal(x, expected)


def test_prepare_real_sequence(real_pku):
    root, out, report = real_pku
    assert report["counts"]["prepared"] == 4 and report["counts"]["failed"] == 0 and exit_status(report) == 0
    assert report["splits"] == {"xsub": {"train": 4, "test": 0}, "xview": {"train": 0, "test": 4}}
    assert report["listed_without_skeleton"] == {"xsub": ["A01N01-M"], "xview": ["A01N01-M"]}
    assert verify(out) == []
    m = pq.read_table(out / "manifest.parquet").to_pydict()        # stock pyarrow
    assert m["sample_id"] == [f"A10N08-L_{r:03d}" for r in range(4)]
    assert m["label"] == [9] * 4 and m["start"] == [12, 160, 310, 720] and m["end"] == [150, 300, 700, 1039]
    assert m["raw_bodies"] == [1, 1, 2, 2]                          # the second body appears at frame 312
    store = zarr.open_group(str(out / "store.zarr"), mode="r")     # stock zarr: the instance's rows, first 300
    seq = np.loadtxt(root / "skeleton" / "A10N08-L.txt").astype(np.float32).reshape(-1, 2, 25, 3)
    offsets = np.asarray(store["offsets"])
    for r, (s, e) in enumerate(zip(m["start"], m["end"])):
        joints = np.asarray(store["joints"][offsets[r]:offsets[r + 1]])
        assert np.array_equal(joints, seq[s:e][:300])
    v = Variant.from_dict(json.loads((out / "prepare.json").read_text())["variant"], "prepare.json")
    assert v.clip == "start:end" and v.persons == 2 and v.joints == 25 and v.centre_joint == 20


def test_stock_webdataset_reads_pku_shards(real_pku):
    import webdataset as wds
    _, out, _ = real_pku
    shards = sorted(str(p) for p in (out / "shards" / "xview").glob("test-*.tar"))
    samples = list(wds.WebDataset(shards, shardshuffle=False).decode())
    assert [s["__key__"] for s in samples] == [f"A10N08-L_{r:03d}" for r in range(4)]
    assert all(s["cls"] == 9 and s["motion.npy.gz"].shape[1:] == (2, 25, 3) for s in samples)


def test_aimclr_clip_takes_one_more_frame(real, tmp_path):
    root = real_tree(real, tmp_path / "v2")
    out = tmp_path / "aimclr"
    prepare("pkummd2", root, out, clip="start-1:end", log=lambda line: None)
    m = pq.read_table(out / "manifest.parquet", columns=["length"]).to_pydict()
    assert m["length"] == [139, 141, 300, 300]                     # 138 + 1, 140 + 1, then cropped to 300
    with pytest.raises(ValueError, match="--clip"):
        make_variant("ntu60", clip="start-1:end")


def mamp_layout(root: Path, phase: int) -> None:
    """MAMP's Phase I script reads cross-view.txt / cross-subject.txt: give it those names too."""
    if phase == 1:
        for a, b in (("cross_view.txt", "cross-view.txt"), ("cross_subject.txt", "cross-subject.txt")):
            shutil.copy(root / a, root / b)


@pytest.mark.parametrize("phase", [1, 2])
def test_export_mamp_equals_mamps_script(tmp_path, phase):
    root = tmp_path / "raw"
    synth_pku(root, 9, seed=phase, phase=phase, classes=7)
    # an all-zero instance: MAMP drops it, so does gltr (counted apart, not a failure of the run)
    label = sorted((root / "label").glob("*.txt"))[0]
    seq = np.loadtxt(root / "skeleton" / label.name)
    seq[3:9] = 0
    (root / "skeleton" / label.name).write_text("\n ".join(" ".join(f"{v:.6f}" for v in row) for row in seq) + "\n")
    label.write_text(label.read_text() + "3,3,9,1\n")
    out = tmp_path / "data"
    report = prepare(f"pkummd{phase}", root, out, log=lambda line: None)
    assert report["counts"]["all_zero_instances"] == 1 and exit_status(report) == 0
    export_mamp(out, tmp_path / "exports", log=lambda line: None)
    mamp_layout(root, phase)
    for benchmark, key in (("XSub", "xsub"), ("XView", "xview")):
        z = np.load(tmp_path / "exports" / f"PKUv{phase}_{benchmark}.npz")
        split = pq.read_table(out / "manifest.parquet", columns=["sample_id", f"split_{key}"]).to_pydict()
        for part in ("train", "test"):
            names, x, labels = mamp_gendata(str(root), phase, benchmark, part)
            order = {n: i for i, n in enumerate(names)}
            ours = [sid for sid, s in zip(split["sample_id"], split[f"split_{key}"]) if s == part]
            idx = [order[f"{sid.rsplit('_', 1)[0]}.txt_{int(sid.rsplit('_', 1)[1])}"] for sid in ours]
            assert sorted(idx) == list(range(len(names)))            # the same instances, in gltr's order
            assert z[f"x_{part}"].dtype == np.float32 and z[f"y_{part}"].shape == (len(names), 51)
            assert np.array_equal(z[f"x_{part}"], x[idx])
            assert np.array_equal(z[f"y_{part}"], mamp_one_hot(labels)[idx])


def test_export_mamp_on_the_real_sequence(real_pku, tmp_path):
    root, out, _ = real_pku
    export_mamp(out, tmp_path / "exports", log=lambda line: None)
    z = np.load(tmp_path / "exports" / "PKUv2_XView.npz")
    names, x, labels = mamp_gendata(str(root), 2, "XView", "test")
    assert names == [f"A10N08-L.txt_{i}" for i in range(4)]
    assert np.array_equal(z["x_test"], x) and np.array_equal(z["y_test"], mamp_one_hot(labels))
    assert z["x_train"].shape == (0, 300, 150)


def test_export_mamp_refuses_other_datasets(synth_ntu_prepared, tmp_path):
    with pytest.raises(ValueError, match="PKU-MMD"):
        export_mamp(synth_ntu_prepared, tmp_path / "x")


def test_bad_rows_fail_with_reasons_and_the_run_goes_on(real, tmp_path):
    rows = ("10,12,150,1\n10,150,150,1\n10,900,1200,1\nx,1,5,1\n10,3.5,9,1\n60,1,30,1\n10,1,20\n")
    root = real_tree(real, tmp_path / "v2", rows)
    (root / "cross_view_v2.txt").unlink()                                # a missing split file: benchmark skipped
    (root / "skeleton" / "A11N01-R.txt").write_text("1 2 3\n")           # a row of 3 numbers
    (root / "label" / "A11N01-R.txt").write_text("11,0,1,1\n")
    (root / "skeleton" / "A12N01-R.txt").write_text(" ".join(["0.5"] * 150) + "\n")   # no label file
    (root / "skeleton" / "bad-name.txt").write_text("")
    lines = []
    report = prepare("pkummd2", root, tmp_path / "out", log=lines.append)
    reasons = {f["file"]: f["reason"] for f in report["failed"]}
    assert report["counts"]["prepared"] == 2 and exit_status(report) == 1
    assert reasons["skeleton/A10N08-L.txt (label row 2)"].startswith("frames 150-150: start must be below end")
    assert reasons["skeleton/A10N08-L.txt (label row 3)"] == "frames 900-1200 run past the sequence's 1040 frames"
    assert "must be integers in ASCII digits" in reasons["label/A10N08-L.txt row 4"]       # x
    assert "must be integers in ASCII digits" in reasons["label/A10N08-L.txt row 5"]       # 3.5
    assert reasons["label/A10N08-L.txt row 6"] == "class 60 out of range 1-41"
    assert reasons["skeleton/A11N01-R.txt (label row 1)"] == "line 1 holds 3 numbers, not 150"
    assert "cannot read the label file" in reasons["label/A12N01-R.txt"]
    assert "bad file name" in reasons["skeleton/bad-name.txt"]
    assert list(report["splits"]) == ["xsub"]
    assert any("cross_view_v2.txt: not found: benchmark xview skipped" in line for line in lines)
    assert report["counts"]["all_zero_instances"] == 0


def test_parse_labels_accepts_the_official_rows():
    assert parse_labels(b"1,2,30,1\r\n\n41 , 5 , 9 , 2\n") == [(1, 2, 30), (41, 5, 9)]
    assert ALL_ZERO.startswith("all-zero")


def test_variant_layout_1_reads_as_whole_files():
    d = make_variant("nwucla").to_dict()
    del d["clip"]
    d["layout"] = 1
    assert Variant.from_dict(d, "old").clip == "file"


def test_cli_synth_and_prepare_both_phases(tmp_path):
    from typer.testing import CliRunner
    from gltr.cli.main import app
    runner = CliRunner()
    for phase in (1, 2):
        raw, out = tmp_path / f"raw{phase}", tmp_path / f"p{phase}"
        r = runner.invoke(app, ["synth", f"pkummd{phase}", "--out", str(raw), "--samples", "6"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["prepare", f"pkummd{phase}", "--raw", str(raw), "--out", str(out)])
        assert r.exit_code == 0, r.output
        report = json.loads((out / "prepare.json").read_text())
        assert report["counts"]["prepared"] >= 18 and report["counts"]["failed"] == 0
        with tarfile.open(next((out / "shards" / "xsub").glob("train-*.tar"))) as t:
            assert any(n.endswith(".motion.npy.gz") for n in t.getnames())


# ----------------------------------------------------------------------------- issue 25: hardening

def test_a_149_number_row_then_a_151_number_row_is_refused():
    """The numbers of a frame are never borrowed from the next row: every row holds exactly 150."""
    row = " ".join(["0.5"] * 150)
    data = (" ".join(["0.5"] * 149) + "\n" + " ".join(["0.5"] * 151) + "\n" + row + "\n").encode()
    with pytest.raises(ValueError):
        np.loadtxt(io.BytesIO(data))                                   # MAMP's parse refuses it too
    with pytest.raises(PkuError, match=r"^line 1 holds 149 numbers, not 150$"):
        parse_sequence(data)
    with pytest.raises(PkuError, match=r"^line 3 holds 151 numbers, not 150$"):
        parse_sequence((row + "\n\n" + " ".join(["0.5"] * 151) + "\n").encode())   # a blank line still counts


@pytest.mark.parametrize("bad", ["1 2\x0c3", "0x1f", "1_0", "\u0661", "1,5", "--1", "1.2.3"])
def test_a_skeleton_value_that_is_not_a_plain_decimal_names_its_line(bad):
    row = " ".join(["0.5"] * 149)
    data = f"{row} 1\n{row} {bad}\n".encode()
    with pytest.raises(PkuError, match=r"^line 2( holds b'.+', not part of a number|: '.+' is not a number)$"):
        parse_sequence(data)


def test_a_skeleton_file_splits_at_newlines_only_and_accepts_crlf():
    row = " ".join(["0.25"] * 150)
    assert parse_sequence(f"{row}\r\n {row}\r\n".encode()).shape == (2, 150)
    assert parse_sequence(f"{row}\n\n\n {row}".encode()).shape == (2, 150)          # blank lines and no final \n
    for sep in ("\x0c", "\x0b", "\x1c", "\r", "\u2028", "\x85"):
        with pytest.raises(PkuError, match=r"^line 1"):
            parse_sequence(f"{row}{sep}{row}\n".encode())


@pytest.mark.parametrize("field", ["\u0661\u0660", "1_0", "1e1", "12.0", "+10", "-1", "10\x0c", "", "9" * 5000])
def test_label_fields_are_ascii_digits_only(field):
    for row in (f"{field},12,150,1", f"10,{field},150,1", f"10,12,150,{field}"):
        entries = parse_labels(row.encode() + b"\n10,160,300,2\n")
        assert isinstance(entries[0], str) and "ASCII digits" in entries[0], (row, entries)
        assert entries[1] == (10, 160, 300)


@pytest.mark.parametrize("sep", ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"])
def test_label_rows_split_at_newlines_only(sep):
    """A row is what ends at \\n (or \\r\\n): the row numbers, and so the sample ids, stay MAMP's."""
    entries = parse_labels(f"10,12,150,1{sep}10,160,300,2\n10,310,700,1\r\n".encode())
    assert len(entries) == 2 and isinstance(entries[0], str) and entries[1] == (10, 310, 700)


def test_a_split_file_splits_at_newlines_only(tmp_path):
    path = tmp_path / "cross_view_v2.txt"
    path.write_bytes("Training videos:\x0c\u2028\r\nA10N08-L, A01N01-M\r\nValidation videos: \n".encode())
    assert read_split(path) == {"A10N08-L", "A01N01-M"}


def test_a_non_finite_value_fails_only_the_instances_that_hold_it(real, tmp_path):
    root = real_tree(real, tmp_path / "v2")
    path = root / "skeleton" / "A10N08-L.txt"
    lines = path.read_bytes().split(b"\n")
    for frame, value in ((1000, b"inf"), (200, b"nan")):               # in label rows 4 (720-1039) and 2 (160-300)
        fields = lines[frame].split(b" ")
        fields[-1] = value
        lines[frame] = b" ".join(fields)
    path.write_bytes(b"\n".join(lines))
    report = prepare("pkummd2", root, tmp_path / "out", log=lambda line: None)
    reasons = {f["file"]: f["reason"] for f in report["failed"]}
    assert report["counts"]["prepared"] == 2 and sorted(reasons) == [
        "skeleton/A10N08-L.txt (label row 2)", "skeleton/A10N08-L.txt (label row 4)"]
    assert reasons["skeleton/A10N08-L.txt (label row 4)"].startswith("frame 1000 of the sequence holds a non-finite")
    assert reasons["skeleton/A10N08-L.txt (label row 2)"].startswith("frame 200 of the sequence holds a non-finite")


def test_overlapping_label_rows_over_the_ceiling_fail_their_sequence(real, tmp_path):
    """50 copies of one 1,000-frame row on a 1,040-frame sequence: one line for the label file, nothing prepared."""
    root = real_tree(real, tmp_path / "v2", "10,0,1000,1\n" * 50)
    report = prepare("pkummd2", root, tmp_path / "out", log=lambda line: None)
    assert report["counts"]["prepared"] == 0 and len(report["failed"]) == 1
    failure = report["failed"][0]
    assert failure["file"] == "label/A10N08-L.txt"
    assert failure["reason"] == (f"instances ending by frame 1000 hold 3000 frames, over {MAX_COVER} x 1000: "
                                 f"the label rows overlap (at most {MAX_COVER} instances per frame on average)")


def test_the_ceiling_passes_tiling_rows_and_refuses_overlap():
    assert overlap_problem([(s, s + 1) for s in range(100)]) is None                # one-frame instances tiling
    assert overlap_problem([(0, 10), (0, 10), (10, 30), (12, 30)]) is None           # every frame in 2 instances
    assert overlap_problem([(0, 10), (0, 10), (0, 10)]).startswith("instances ending by frame 10 hold 30 frames")
    assert overlap_problem([(0, 10), (0, 10), (10, 30), (9, 30)]).startswith("instances ending by frame 30 hold 61")
    assert overlap_problem([(5, 1), (7, 7)]) is None                   # rows that fail anyway count nothing


def test_synthetic_label_files_are_well_under_the_ceiling(tmp_path):
    synth_pku(tmp_path, 12, seed=3)
    for label in (tmp_path / "label").glob("*.txt"):
        spans = [(s, e) for _, s, e in parse_labels(label.read_bytes())]
        assert overlap_problem(spans) is None and overlap_problem([(s, e) for s, e in spans for _ in (0, 1)]) is None


PEAK_SCRIPT = r'''
import sys, numpy as np
from gltr.pipeline.pku import parse_sequence
def kb(key):
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1])
data = open(sys.argv[1], "rb").read()
before = kb("VmRSS:")
x = parse_sequence(data)
print(before, kb("VmHWM:"), x.nbytes // 1024, x.shape[0])
'''


def test_parsing_a_large_skeleton_file_stays_within_a_few_arrays_of_memory(tmp_path):
    """Peak RSS growth while parsing a 20 MB file: at most 2.5 x its float32 array (+ 8 MB of slack)."""
    rng = np.random.default_rng(0)
    block = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in rng.normal(0, 1, (500, 150))) + "\n"
    path = tmp_path / "A01N01-L.txt"
    path.write_text(block * 28)                                           # 14,000 frames, ~20 MB
    script = tmp_path / "peak.py"
    script.write_text(PEAK_SCRIPT)
    import subprocess
    import sys
    out = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, check=True)
    before, peak, array, frames = map(int, out.stdout.split())
    assert frames == 14000 and array == 14000 * 150 * 4 // 1024
    assert peak - before <= 2.5 * array + 8192, (peak - before, array)
