"""Normalisation into the model's input representation (docs/preprocessing.md). Pure functions.

x: [T, P, K, 3] camera coordinates of the selected bodies (T frames, P persons, K joints).

The dtype chain is the reference's, so the motion is bit-identical to it: coordinates are float32,
centring and the shoulder vector are float32 differences, the angle is computed in float32 through
degrees, cos / sin are float32 values promoted to float64, and the rotation is applied in float64
to the float32 coordinates before the result is stored as float32.
"""
import numpy as np

from gltr.datasets import ROTATIONS


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
    """Local motion q_v - q_c for v != c; slot c holds the trajectory g_t = q_c(t) - q_c(0) (x's dtype)."""
    rel = x - x[:, :, c:c + 1]                        # [T, P, K, 3]
    rel[:, :, c] = x[:, :, c] - x[:1, :, c]           # [T, P, 3]
    return rel


def rotation_angles(rel: np.ndarray, left: int, right: int, rotation: str, t_pad: int | None = None) -> np.ndarray:
    """[T, P] float32 angle about y that puts the shoulder line (right - left, y dropped) on +x.

    rel is float32. The sequence sign sums v_z over the frames zero-padded to `t_pad`, in float32,
    as the reference does over its padded array.
    """
    v = rel[:, :, right] - rel[:, :, left]            # [T, P, 3] float32
    vx, vz = v[..., 0], v[..., 2]                     # v_y is dropped
    norm = np.sqrt(vx * vx + vz * vz)
    degrees = np.arccos(vx / (norm + np.float32(1e-4))) * np.float32(180 / np.pi)
    angle = degrees * np.float32(np.pi) / np.float32(180)
    if rotation == "sequence":                        # faithful: one sign per person for all frames
        padded = np.zeros((max(t_pad or 0, len(vz)), vz.shape[1]), np.float32)
        padded[:len(vz)] = vz
        negate = padded.sum(0, keepdims=True) >= 0    # [1, P]
    elif rotation == "per-frame":
        negate = vz >= 0                              # [T, P]
    else:
        raise ValueError(f"unknown rotation {rotation!r}; choose from {ROTATIONS}")
    return np.where(negate, -angle, angle)


def rotate_y(rel: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """p' = R_t p with R_t = [[c, 0, -s], [0, 1, 0], [s, 0, c]] per frame and person, every slot.

    c and s are taken in the angle's dtype and promoted to float64; the product is float64.
    """
    c = np.cos(angle).astype(np.float64)[..., None]                 # [T, P, 1]
    s = np.sin(angle).astype(np.float64)[..., None]
    x, y, z = (rel[..., i].astype(np.float64) for i in range(3))     # [T, P, K]
    return np.stack([c * x - s * z, y, s * x + c * z], axis=-1)


def to_motion(x: np.ndarray, c: int, left: int, right: int, rotation: str = ROTATIONS[0],
              t_pad: int | None = None) -> np.ndarray:
    """[T, P, K, 3] camera coordinates -> [T, P, K, 3] float32 model input (the reference's dtype chain).

    All T frames given take part in the rotation sign, as in the reference (which sums over
    its whole zero-padded array of `t_pad` frames); callers crop to the valid length afterwards.
    """
    rel = centre(x.astype(np.float32), c)
    return rotate_y(rel, rotation_angles(rel, left, right, rotation, t_pad)).astype(np.float32)
