import numpy as np
import pytest

from gltr.train.augment import interpolate, shear


def sample(L=50, seed=0):
    x = np.random.default_rng(seed).normal(size=(L, 2, 25, 3)).astype(np.float32)
    x[:, 1] = 0                                                   # absent second person
    return x


def test_interpolated_length_stays_within_ten_percent():
    rng = np.random.default_rng(0)
    for L in (1, 7, 50, 123, 300):
        lengths = [len(interpolate(sample(L), rng, 0.1, 300)) for _ in range(200)]
        assert min(lengths) >= max(int(L * 0.9), 1) and max(lengths) <= min(int(L * 1.1), 300)
    grow = [len(interpolate(sample(100), rng, 0.1, 300)) for _ in range(200)]
    assert min(grow) < 100 < max(grow)                            # both signs happen


@pytest.mark.parametrize("L, new_len", [(20, 22), (40, 36), (83, 91), (50, 45), (7, 6), (1, 1)])
def test_resampling_equals_the_authors_cv2_resize(L, new_len):
    """The authors interpolate with cv2.resize(frame-major [T, V, C] per person, (V, new_len), INTER_LINEAR)."""
    import cv2
    from gltr.train.augment import resample
    x = sample(L)                                                   # [L, 2, 25, 3]
    want = np.stack([cv2.resize(x[:, p], (x.shape[2], new_len), interpolation=cv2.INTER_LINEAR)
                     for p in range(x.shape[1])], axis=1)
    np.testing.assert_allclose(resample(x, new_len), want, rtol=1e-5, atol=1e-6)


def test_shear_leaves_the_trajectory_slot_and_absent_person():
    x = sample(30)
    y = shear(x, np.random.default_rng(1), 0.3, centre=20)
    np.testing.assert_array_equal(y[:, :, 20], x[:, :, 20])
    assert (y[:, 1] == 0).all()
    A = np.linalg.lstsq(x[:, 0, :20].reshape(-1, 3), y[:, 0, :20].reshape(-1, 3), rcond=None)[0].T
    np.testing.assert_allclose(np.diag(A), 1, atol=1e-5)         # identity diagonal
    off = A[~np.eye(3, dtype=bool)]
    assert np.all(np.abs(off) <= 0.3) and np.abs(off).max() > 0
