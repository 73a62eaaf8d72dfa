"""Normalisation into the model's input representation (REFERENCE section 3). Pure functions.

x: [T, P, K, 3] camera coordinates of the selected bodies (T frames, P persons, K joints).
"""
import numpy as np

ROTATIONS = ("sequence", "per-frame")


def valid_length(x: np.ndarray, t_max: int) -> int:
    """Number of frames where |x|+|y|+|z| of joint 0, person 0 is non-zero (a count), capped at t_max."""
    return int(min((np.abs(x[:, 0, 0]).sum(-1) != 0).sum(), t_max))


def subsample(x: np.ndarray, t_max: int) -> np.ndarray:
    """Uniformly pick t_max frames (first and last kept) from a longer sequence; shorter ones unchanged."""
    if len(x) <= t_max:
        return x
    idx = np.round(np.linspace(0, len(x) - 1, t_max)).astype(np.int64)
    return x[idx]


def centre(x: np.ndarray, c: int) -> np.ndarray:
    """Local motion q_v - q_c for v != c; slot c holds the trajectory g_t = q_c(t) - q_c(0)."""
    rel = x - x[:, :, c:c + 1]                        # [T, P, K, 3]
    rel[:, :, c] = x[:, :, c] - x[:1, :, c]           # [T, P, 3]
    return rel


def rotation_angles(rel: np.ndarray, left: int, right: int, rotation: str) -> np.ndarray:
    """[T, P] angle about y that puts the shoulder line (right - left, y dropped) on +x."""
    v = rel[:, :, right] - rel[:, :, left]            # [T, P, 3]
    v[..., 1] = 0
    angle = np.arccos(v[..., 0] / (np.linalg.norm(v, axis=-1) + 1e-4))
    if rotation == "sequence":                        # faithful: one sign per person for all frames
        negate = v[..., 2].sum(0, keepdims=True) >= 0  # [1, P]
    elif rotation == "per-frame":
        negate = v[..., 2] >= 0                        # [T, P]
    else:
        raise ValueError(f"unknown rotation {rotation!r}; choose from {ROTATIONS}")
    return np.where(negate, -angle, angle)


def rotate_y(rel: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """p' = R_t p with R_t = [[c, 0, -s], [0, 1, 0], [s, 0, c]] per frame and person, every slot."""
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]   # [T, P, 1]
    x, y, z = rel[..., 0], rel[..., 1], rel[..., 2]               # [T, P, K]
    return np.stack([c * x - s * z, y, s * x + c * z], axis=-1)


def to_motion(x: np.ndarray, c: int, left: int, right: int, rotation: str = "sequence") -> np.ndarray:
    """[T, P, K, 3] camera coordinates -> [T, P, K, 3] float32 model input (computed in float64).

    All T frames given take part in the rotation sign, as in the reference (which sums over
    its whole zero-padded array); callers crop to the valid length afterwards.
    """
    rel = centre(x.astype(np.float64), c)
    return rotate_y(rel, rotation_angles(rel, left, right, rotation)).astype(np.float32)
