import numpy as np
import pytest
import torch

import naive
from gltr.pipeline.bodies import select_bodies, trim_leading_empty
from gltr.pipeline.mpdp import mpdp_labels
from gltr.pipeline.normalize import valid_length
from gltr.pipeline.ntu_reader import parse_skeleton
from gltr.pipeline.sample import read_ntu
from gltr.datasets import make_variant


def residual_bound(shoulder):
    """The 1e-4 in arccos(v_x / (|v| + 1e-4)) leaves the rotated shoulder line off x by at most this."""
    v = np.linalg.norm(shoulder[..., [0, 2]], axis=-1)
    return v * np.sin(np.arccos(v / (v + 1e-4))) + 1e-5


def real_files(real):
    return sorted((real / "ntu_skeleton").glob("*.skeleton")) + [
        real / "ntu_skeleton_hard" / n for n in
        ("S001C001P006R002A050.skeleton", "S001C002P004R002A052.skeleton", "S001C003P002R002A001.skeleton",
         "S001C002P005R002A008.skeleton", "S001C003P006R002A008.skeleton")]


@pytest.mark.parametrize("rule, rotation", [("first2", "sequence"), ("energy", "sequence"), ("energy", "per-frame")])
def test_motion_is_bit_identical_to_the_naive_reference(real, rule, rotation):
    variant = make_variant("ntu60" if rule == "first2" else "ntu120", rule, rotation)
    for path in real_files(real):
        padded = naive.select(naive.read_records(path), rule)
        expected, L = naive.normalise(padded, per_frame=rotation == "per-frame")
        sample = read_ntu(path, variant)
        assert len(sample.motion) == L, path.name
        np.testing.assert_array_equal(sample.motion, expected, err_msg=path.name)   # same dtype chain: bit for bit
        np.testing.assert_allclose(sample.joints, padded[:L], rtol=0, atol=1e-6)


def test_mpdp_labels_match_the_naive_token_loop(real):
    variant = make_variant("ntu120")
    for path in real_files(real)[::3]:
        sample = read_ntu(path, variant)
        d, m = naive.mpdp(sample.motion)
        np.testing.assert_array_equal(sample.direction, d, err_msg=path.name)
        np.testing.assert_array_equal(sample.magnitude, m, err_msg=path.name)


def test_mpdp_on_a_hand_made_sequence():
    x = torch.zeros(12, 2, 3, 3)
    x[:, 0, 0, 0] = torch.arange(12) * 0.0234375     # joint 0 of person 0 moves +x by 3/128 m per frame (exact in binary)
    d, m = mpdp_labels(x)
    # d_n(t) = X(t-n) - X(t) < 0 along x -> s_x = 0, s_y = s_z = 1 -> class 0 + 3 + 9 = 12
    assert d[3, 0, 0, 0] == 12 and d[0, 0, 0, 0] == 13 and d[3, 0, 0, 1] == 13
    assert m[3, 0, 0, 0] == 3        # 2.34 cm  -> floor(2.34) + 1
    assert m[11, 1, 0, 0] == 12      # 11.72 cm -> floor(11.72) + 1 (5 frames)
    assert m[11, 2, 0, 0] == 14      # 23.4 cm  -> capped at 14
    assert m[2, 2, 0, 0] == 5        # t < n: X(0) is used -> 4.69 cm
    assert (m[:, :, 1] == 15).all()  # person 1 absent
    assert m[:, :, 0, 1:].max() == 0


def test_labels_are_computed_in_float64_from_float32_motion():
    """A 2 cm step written in float32 is 1.99999... cm in float64: magnitude class 2 (the reference's
    chain), where a float32 computation would round it to exactly 2 cm and class 3."""
    x = torch.zeros(2, 1, 1, 3)
    x[1, 0, 0, 0] = 0.06
    x[0, 0, 0, 0] = 0.04
    d64 = float(x[0, 0, 0, 0].double() - x[1, 0, 0, 0].double())
    _, m = mpdp_labels(x, (1,))
    assert m[1, 0, 0, 0] == min(int(abs(d64) // 0.01) + 1, 14) == 2


def test_batched_labels_equal_per_sample_labels(real):
    variant = make_variant("ntu120")
    samples = [read_ntu(p, variant) for p in real_files(real)[:4]]
    T = max(len(s.motion) for s in samples)
    batch = torch.zeros(len(samples), T, 2, 25, 3)
    for b, s in enumerate(samples):
        batch[b, :len(s.motion)] = torch.from_numpy(s.motion)
    d, m = mpdp_labels(batch)
    for b, s in enumerate(samples):
        L = len(s.motion)
        np.testing.assert_array_equal(d[b, :L].numpy(), s.direction)
        np.testing.assert_array_equal(m[b, :L].numpy(), s.magnitude)


def test_invariants_on_real_files(real):
    variant = make_variant("ntu120")
    agree = total = 0
    for path in real_files(real):
        s = read_ntu(path, variant)
        np.testing.assert_array_equal(s.motion[0, 0, 20], 0)           # trajectory starts at the origin
        if (s.joints[:, 1] == 0).all():                                  # absent second person stays 0
            assert (s.motion[:, 1] == 0).all()
        shoulder = s.motion[:, 0, 8] - s.motion[:, 0, 4]                 # [L, 3] after rotation
        raw = s.joints[:, 0, 8] - s.joints[:, 0, 4]
        sign_ok = (raw[:, 2] >= 0) == (raw[:, 2].sum() >= 0)
        present = np.abs(raw).sum(-1) > 0
        ok = sign_ok & present
        assert np.all(np.abs(shoulder[ok, 2]) <= residual_bound(shoulder[ok]))
        assert np.all(shoulder[ok, 0] > 0)
        agree, total = agree + ok.sum(), total + present.sum()
    assert agree / total > 0.8


def test_per_frame_rotation_puts_every_shoulder_line_on_x(real):
    s = read_ntu(real / "ntu_skeleton/S001C001P001R001A050.skeleton", make_variant("ntu120", rotation="per-frame"))
    shoulder = s.motion[:, :, 8] - s.motion[:, :, 4]
    assert np.all(np.abs(shoulder[..., 2]) <= residual_bound(shoulder)) and np.all(shoulder[..., 0] > 0)


def test_body_rules_on_hard_cases(real):
    hard = real / "ntu_skeleton_hard"
    noisy = parse_skeleton((hard / "S001C001P006R002A050.skeleton").read_bytes())   # 3 bodies, one static
    for rule in ("energy", "denoise"):
        x = select_bodies(noisy, rule)
        motion = x.reshape(len(x), 2, -1).std(0).sum(-1)
        assert motion.min() > 0.01, rule           # the static noise body was not kept
    late = parse_skeleton((hard / "S001C002P004R002A052.skeleton").read_bytes())   # 2nd person in the last 7 frames
    x = select_bodies(late, "first2")
    assert (np.abs(x[:, 1]).sum((1, 2)) > 0).sum() == 7
    noise = parse_skeleton((hard / "S001C003P002R002A001.skeleton").read_bytes())   # one-frame noise bodies
    x = select_bodies(noise, "denoise")
    assert (x[:, 1] == 0).all() and valid_length(trim_leading_empty(x), 300) >= 80


def test_trim_leading_empty_frames():
    x = np.zeros((6, 2, 25, 3), np.float32)
    x[2:, 0, 0, 0] = 1
    assert len(trim_leading_empty(x)) == 4
    x[0, 0, 0, 0] = 1
    assert len(trim_leading_empty(x)) == 6
