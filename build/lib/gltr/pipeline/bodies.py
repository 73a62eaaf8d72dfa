"""Body selection: listed bodies of a Skeleton -> a dense [T, P, K, 3] array (REFERENCE section 2).

- `first2`  (NTU-60 reference): slot m of frame t is the m-th body listed in frame t; keep 2.
- `energy`  (NTU-120 reference): fill up to 4 slots the same way, keep the 2 slots of highest
            energy std(x)+std(y)+std(z) over their non-zero frames, highest first.
- `denoise` (option): track bodies by ID, drop short / wide (spread) / static bodies, order the
            rest by motion, and pack them into persons without overlapping frames.
Then `trim_leading_empty` drops frames before the first where joint 0 of person 0 has x != 0.
"""
import numpy as np

from gltr.pipeline.ntu_reader import NUM_JOINTS, Skeleton

BODY_RULES = ("first2", "energy", "denoise")


def slots_in_listing_order(skel: Skeleton, num_slots: int) -> np.ndarray:
    """[T, num_slots, K, 3]: slot m of frame t = the m-th body listed in frame t (extra bodies dropped)."""
    out = np.zeros((skel.num_frames, num_slots, NUM_JOINTS, 3))
    if len(skel.frame) == 0:
        return out
    first_of_frame = np.searchsorted(skel.frame, skel.frame, side="left")
    rank = np.arange(len(skel.frame)) - first_of_frame  # position of each body within its frame
    keep = rank < num_slots
    out[skel.frame[keep], rank[keep]] = skel.joints[keep]
    return out


def slot_energy(slots: np.ndarray) -> np.ndarray:
    """[M] energy of each slot: sum over x, y, z of the population std over its non-zero frames."""
    T, M, K, C = slots.shape
    energy = np.zeros(M)
    for m in range(M):
        s = slots[:, m].astype(np.float64)            # [T, K, 3]
        present = s.reshape(T, K * C).sum(1) != 0      # frames where the 75 coordinates do not sum to 0
        if present.any():
            energy[m] = s[present].reshape(-1, C).std(0).sum()
    return energy


def select_first2(skel: Skeleton) -> np.ndarray:
    return slots_in_listing_order(skel, 2)


def select_energy(skel: Skeleton) -> np.ndarray:
    slots = slots_in_listing_order(skel, 4)
    order = slot_energy(slots).argsort()[::-1][:2]    # as the reference: ascending argsort, reversed
    return np.ascontiguousarray(slots[:, order])


def select_denoise(skel: Skeleton, min_frames: int = 11, spread_ratio: float = 0.8,
                   max_noise_rate: float = 0.69, min_motion: float = 1e-4) -> np.ndarray:
    """Body-ID tracking with the CTR-GCN/SGN-style length, spread and motion filters."""
    T = skel.num_frames
    bodies = []  # (motion, frames, joints)
    for bid in np.unique(skel.body_id):
        m = skel.body_id == bid
        frames, joints = skel.frame[m], skel.joints[m]              # [n], [n, K, 3]
        if len(frames) < min_frames:
            continue                                                 # length filter
        x_span = np.ptp(joints[..., 0], axis=1)
        y_span = np.ptp(joints[..., 1], axis=1)
        if np.mean(x_span > spread_ratio * y_span) >= max_noise_rate:
            continue                                                 # spread filter: wider than tall
        motion = joints.astype(np.float64).var(0).sum()
        if motion < min_motion:
            continue                                                 # motion filter: static object
        bodies.append((motion, frames, joints))
    if not bodies:  # every body filtered out: fall back to the listing order rather than lose the sample
        return select_first2(skel)
    bodies.sort(key=lambda b: -b[0])
    out = np.zeros((T, 2, NUM_JOINTS, 3))
    used = np.zeros((2, T), bool)
    for _, frames, joints in bodies:
        for p in range(2):
            if not used[p, frames].any():
                out[frames, p] = joints
                used[p, frames] = True
                break
    return out


def select_bodies(skel: Skeleton, rule: str) -> np.ndarray:
    """[T, 2, 25, 3] float64 by the named rule."""
    if rule == "first2":
        return select_first2(skel)
    if rule == "energy":
        return select_energy(skel)
    if rule == "denoise":
        return select_denoise(skel)
    raise ValueError(f"unknown body rule {rule!r}; choose from {BODY_RULES}")


def trim_leading_empty(x: np.ndarray) -> np.ndarray:
    """Drop frames before the first where x of joint 0, person 0 is non-zero (only if frame 0 has 0)."""
    if len(x) == 0 or x[0, 0, 0, 0] != 0:
        return x
    nonzero = np.flatnonzero(x[:, 0, 0, 0] != 0)
    return x[nonzero[0]:] if len(nonzero) else x[:0]
