"""Augmentations of the authors' feeders (docs/training.md), as pure functions of one sample's valid frames.

motion: [L, P, K, 3] float32 (L valid frames). Both keep an absent (all-zero) person at zero.
"""
import numpy as np


def interpolate(motion: np.ndarray, rng: np.random.Generator, ratio: float = 0.1, t_max: int = 300) -> np.ndarray:
    """Linear resampling to int(L * (1 +/- U(0, 1) * ratio)) frames (sign +/- with p = 0.5), capped at t_max."""
    L = len(motion)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    new_len = min(max(int(L * (1 + sign * rng.random() * ratio)), 1), t_max)
    return motion if new_len == L else resample(motion, new_len)


def resample(motion: np.ndarray, new_len: int) -> np.ndarray:
    """[L, ...] -> [new_len, ...] by linear interpolation over frames, sampled as the authors' cv2.resize(...,
    INTER_LINEAR) samples: output frame i reads source position (i + 0.5) * L / new_len - 0.5, clamped to
    [0, L - 1] (pixel centres, not the end-aligned grid of np.linspace)."""
    L = len(motion)
    if new_len < 1 or L < 1:
        raise ValueError(f"resample needs frames to resample into and from, not {L} -> {new_len}")
    pos = np.clip((np.arange(new_len) + 0.5) * (L / new_len) - 0.5, 0, L - 1)   # [L'] source positions
    lo = pos.astype(np.int64)                               # floor (pos >= 0)
    hi = np.minimum(lo + 1, L - 1)
    w = (pos - lo).astype(np.float32).reshape((-1,) + (1,) * (motion.ndim - 1))
    low = motion[lo]
    return low + (motion[hi] - low) * w


def shear(motion: np.ndarray, rng: np.random.Generator, amount: float = 0.3, centre: int = 20) -> np.ndarray:
    """x' = A x with A = I plus six independent off-diagonal U(-amount, amount); the trajectory slot is untouched."""
    A = np.eye(3, dtype=np.float32)
    off = ~np.eye(3, dtype=bool)
    A[off] = rng.uniform(-amount, amount, 6)
    out = motion @ A.T                                       # [L, P, K, 3] float32
    out[:, :, centre] = motion[:, :, centre]
    return out
