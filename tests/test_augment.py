import numpy as np

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


def test_interpolation_is_linear_and_keeps_the_ends():
    x = sample(20)
    y = interpolate(x, np.random.default_rng(3), 0.1, 300)
    np.testing.assert_allclose(y[0], x[0], atol=1e-6)
    np.testing.assert_allclose(y[-1], x[-1], atol=1e-6)
    ramp = np.broadcast_to(np.arange(20, dtype=np.float32)[:, None, None, None], (20, 2, 25, 3)).copy()
    r = interpolate(ramp, np.random.default_rng(3), 0.1, 300)
    np.testing.assert_allclose(np.diff(r[:, 0, 0, 0]), 19 / (len(r) - 1), atol=1e-5)


def test_shear_leaves_the_trajectory_slot_and_absent_person():
    x = sample(30)
    y = shear(x, np.random.default_rng(1), 0.3, centre=20)
    np.testing.assert_array_equal(y[:, :, 20], x[:, :, 20])
    assert (y[:, 1] == 0).all()
    A = np.linalg.lstsq(x[:, 0, :20].reshape(-1, 3), y[:, 0, :20].reshape(-1, 3), rcond=None)[0].T
    np.testing.assert_allclose(np.diag(A), 1, atol=1e-5)         # identity diagonal
    off = A[~np.eye(3, dtype=bool)]
    assert np.all(np.abs(off) <= 0.3) and np.abs(off).max() > 0
