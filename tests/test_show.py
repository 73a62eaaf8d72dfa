"""`gltr show`: bone topologies, what is drawn, and the rendered files."""
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from gltr.cli.main import app
from gltr.datasets import DATASETS, NTU_JOINTS, UCLA_JOINTS
from gltr.analysis.show import drawable, read_sample


@pytest.mark.parametrize("dataset, names", [("ntu120", NTU_JOINTS), ("nwucla", UCLA_JOINTS)])
def test_bones_form_one_tree_over_every_joint(dataset, names):
    bones = DATASETS[dataset].bones
    K = len(names)
    assert len(bones) == K - 1 and len(set(map(frozenset, bones))) == K - 1
    assert {j for bone in bones for j in bone} == set(range(K))
    reached, frontier = {0}, [0]                                            # connected from SpineBase / HipCenter
    while frontier:
        j = frontier.pop()
        for a, b in bones:
            for u, v in ((a, b), (b, a)):
                if u == j and v not in reached:
                    reached.add(v)
                    frontier.append(v)
    assert reached == set(range(K))
    named = {frozenset((names[a], names[b])) for a, b in bones}
    for side in ("Left", "Right"):                                          # limbs chain as anatomy says
        for a, b in (("Shoulder", "Elbow"), ("Elbow", "Wrist"), ("Wrist", "Hand"), ("Hip", "Knee"),
                     ("Knee", "Ankle"), ("Ankle", "Foot")):
            assert frozenset((a + side, b + side)) in named, (dataset, a + side, b + side)
    if dataset == "ntu120":
        for side in ("Left", "Right"):                                      # ST-GCN's graph: hand - thumb - hand tip
            assert frozenset(("Hand" + side, "Thumb" + side)) in named
            assert frozenset(("Thumb" + side, "HandTip" + side)) in named
        assert frozenset(("Neck", "Head")) in named and frozenset(("SpineShoulder", "Neck")) in named
    else:
        assert frozenset(("ShoulderCenter", "Head")) in named


def first_two_person_sample(data) -> str:
    m = pq.read_table(data / "manifest.parquet", columns=["sample_id", "raw_bodies"]).to_pydict()
    return next(s for s, n in zip(m["sample_id"], m["raw_bodies"]) if n >= 2)


def test_motion_view_puts_the_centre_at_the_origin_and_draws_the_trajectory(synth_ntu_prepared):
    sample = read_sample(synth_ntu_prepared, first_two_person_sample(synth_ntu_prepared))
    points, trajectory, present = drawable(sample, "motion")
    c = sample["variant"].centre_joint
    assert (points[:, :, c] == 0).all()
    assert np.array_equal(trajectory, sample["motion"][:, :, c, :2])
    assert np.array_equal(np.delete(points, c, axis=2), np.delete(sample["motion"][..., :2], c, axis=2))
    joints, none, present = drawable(sample, "joints")
    assert none is None and np.array_equal(joints, sample["joints"][..., :2])
    assert present.shape == sample["joints"].shape[:2]


def render(args):
    return CliRunner().invoke(app, ["show", *map(str, args)])


def test_rendered_files_have_the_asked_size_and_are_not_blank(synth_ntu_prepared, tmp_path):
    sample_id = first_two_person_sample(synth_ntu_prepared)
    length = len(read_sample(synth_ntu_prepared, sample_id)["motion"])
    for what in ("joints", "motion"):
        out = tmp_path / f"{what}.png"
        r = render([synth_ntu_prepared, sample_id, "--what", what, "--out", out, "--size", "640x360", "--frames", "6"])
        assert r.exit_code == 0, r.output
        image = Image.open(out)
        assert image.size == (640, 360)
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
        assert pixels.std() > 5
        blue, orange = (31, 119, 180), (255, 127, 14)                    # matplotlib C0 and C1: both persons drawn
        for colour in (blue, orange):
            assert (np.abs(pixels - colour).sum(1) < 30).sum() > 50, (what, colour)
    gif = tmp_path / "clip.gif"
    r = render([synth_ntu_prepared, sample_id, "--out", gif, "--size", "200x150"])
    assert r.exit_code == 0, r.output
    image = Image.open(gif)
    assert image.size == (200, 150) and image.n_frames == length
    assert not list(tmp_path.glob(".*tmp*"))


def test_bad_requests_name_the_problem(synth_ntu_prepared, tmp_path):
    r = render([synth_ntu_prepared, "S999C001P001R001A001", "--out", tmp_path / "x.png"])
    assert r.exit_code == 2 and "is not in" in r.output
    sample_id = first_two_person_sample(synth_ntu_prepared)
    r = render([synth_ntu_prepared, sample_id, "--out", tmp_path / "x.jpg"])
    assert r.exit_code == 2 and ".png" in r.output
    r = render([synth_ntu_prepared, sample_id, "--out", tmp_path / "x.png", "--size", "big"])
    assert r.exit_code == 2 and "WIDTHxHEIGHT" in r.output
    r = render([tmp_path, sample_id, "--out", tmp_path / "x.png"])
    assert r.exit_code == 2 and "not a prepared dataset" in r.output
    assert not (tmp_path / "x.png").exists()


def test_titles_name_the_action_code_and_the_zero_based_label():
    from gltr.datasets import make_variant
    from gltr.pipeline.names import parse_ucla_name
    from gltr.analysis.show import class_text
    assert class_text(make_variant("ntu120"), 49) == "A050, label 49"          # S...A050 is label 49 in the manifest
    ucla = make_variant("nwucla")
    assert class_text(ucla, 6) == "a08, label 6"                                # NW-UCLA has no actions 7 and 10
    assert parse_ucla_name(class_text(ucla, 6)[:3] + "_s01_e00_v01")["action"] == 8


def test_sizes_and_frames_are_bounded_before_anything_is_drawn(synth_ntu_prepared, tmp_path):
    from gltr.analysis.show import MAX_SIDE, show
    sample = pq.read_table(synth_ntu_prepared / "manifest.parquet", columns=["sample_id"]).column(0)[0].as_py()
    for kw in ({"size": (60000, 60000)}, {"size": (MAX_SIDE + 1, 100)}, {"frames": 100000}):
        with pytest.raises(ValueError, match="between"):
            show(synth_ntu_prepared, sample, tmp_path / "x.png", **kw)
    assert not list(tmp_path.iterdir())
