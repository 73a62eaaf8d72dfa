import pickle

import numpy as np
import pytest

from gltr.pipeline.ntu_reader import SkeletonError, parse_skeleton


def test_every_real_file_equals_the_ctrgcn_parse(real):
    records = pickle.load(open(real / "ctrgcn_parse/raw_data/raw_skes_data.pkl", "rb"))
    assert len(records) == 5
    for rec in records:
        skel = parse_skeleton((real / "ntu_skeleton" / f"{rec['name']}.skeleton").read_bytes())
        assert skel.num_frames == rec["num_frames"]
        assert sorted(map(str, np.unique(skel.body_id))) == sorted(rec["data"])
        for body_id, body in rec["data"].items():
            mine = skel.body_id == int(body_id)
            np.testing.assert_array_equal(skel.frame[mine], body["interval"])
            np.testing.assert_array_equal(skel.joints[mine].reshape(-1, 3).astype(np.float32), body["joints"])  # exact


def test_every_real_file_parses_and_matches_a_line_by_line_reading(real):
    files = sorted((real / "ntu_skeleton").glob("*.skeleton")) + sorted((real / "ntu_skeleton_hard").glob("*.skeleton"))
    assert len(files) == 27
    for path in files:
        skel = parse_skeleton(path.read_bytes())
        lines = path.read_text().splitlines()
        # independent reading: walk the text, keep x, y, z of every joint line
        xyz, i = [], 1
        for _ in range(int(lines[0])):
            nb = int(lines[i]); i += 1
            for _ in range(nb):
                xyz.append([[float(v) for v in lines[i + 2 + j].split()[:3]] for j in range(25)])
                i += 27
        np.testing.assert_array_equal(skel.joints, np.asarray(xyz).reshape(-1, 25, 3))


def test_crlf_and_lf_give_the_same_result(real):
    data = (real / "ntu_skeleton/S001C001P001R001A001.skeleton").read_bytes().replace(b"\r\n", b"\n")
    a, b = parse_skeleton(data), parse_skeleton(data.replace(b"\n", b"\r\n"))
    np.testing.assert_array_equal(a.joints, b.joints)
    np.testing.assert_array_equal(a.body_id, b.body_id)


def test_scientific_notation_is_read(real):
    data = (real / "ntu_skeleton_hard/S001C001P006R002A050.skeleton").read_bytes()
    assert b"E-0" in data
    skel = parse_skeleton(data)
    assert np.isfinite(skel.joints).all() and len(np.unique(skel.body_id)) == 3


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> bytes:
    """A well-formed NTU file in the genuine format (`gltr synth`): the malformed cases damage it."""
    from gltr.pipeline.synth import synth_ntu
    path, = synth_ntu(tmp_path_factory.mktemp("synth"), 1, seed=0)
    data = path.read_bytes()
    assert parse_skeleton(data).num_frames > 10
    return data


def with_line(data: bytes, line_no: int, text: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[line_no - 1] = text
    return b"\n".join(lines)


@pytest.mark.parametrize("make, message", [
    (lambda d: b"", "empty file"),
    (lambda d: d[: len(d) // 2], "truncated"),
    (lambda d: with_line(d, 4, b"24"), "joint count 24"),
    (lambda d: with_line(d, 6, b"0.1 0.2 0.3 1 2 3 4 0 0 0 0 2 7"), "line 6: 13 fields"),
    (lambda d: with_line(d, 7, b"0.1 abc 0.3 1 2 3 4 0 0 0 0 2"), "line 7: non-numeric token b'abc'"),
    (lambda d: bytes(range(256)) * 10, "binary"),
    (lambda d: b"hello\n", "line 1: expected frame count"),
    (lambda d: d + b"1\n2\n", "unexpected lines"),
])
def test_malformed_files_raise_one_clear_error(good, make, message):
    with pytest.raises(SkeletonError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_skeleton(make(good))


def test_the_real_corrupted_variant_names_its_line(real):
    path = next((real / "ntu_skeleton_variants").iterdir())
    with pytest.raises(SkeletonError, match="line 6: 13 fields, expected 12"):
        parse_skeleton(path.read_bytes())


def test_shifted_columns_are_caught_even_when_the_total_is_right(good):
    d = with_line(good, 6, b"0.1 0.2 0.3 1 2 3 4 0 0 0 0 2 0.5")   # 13 fields
    d = with_line(d, 8, b"0.1 0.2 0.3 1 2 3 4 0 0 0 2")         # 11 fields
    with pytest.raises(SkeletonError, match="line 6: 13 fields"):
        parse_skeleton(d)
