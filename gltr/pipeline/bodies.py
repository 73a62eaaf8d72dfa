"""Body selection: listed bodies of a Skeleton -> a dense [T, P, K, 3] array (docs/preprocessing.md).

- `first2`  (NTU-60 reference): slot m of frame t is the m-th body listed in frame t; keep 2.
- `energy`  (NTU-120 reference): fill up to 4 slots the same way, keep the 2 slots of highest
            energy std(x)+std(y)+std(z) over their non-zero frames, highest first.
- `denoise` (option): CTR-GCN's denoising exactly (`denoised_actors`): track bodies by ID, drop
            short and wide (spread) ones, order the rest by motion, pack them into two actors.
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


# CTR-GCN's denoising (data/ntu*/get_raw_denoised_data.py), followed exactly
NOISE_LENGTH = 11          # a body seen in at most this many frames is noise
NOISE_SPREAD = 0.8         # a frame is noisy when the body is wider (x) than 0.8 x its height (y)
NOISE_SPREAD_RATE = 0.69754  # a body with at least this share of noisy frames is noise


def tracked_bodies(skel: Skeleton) -> tuple[list, int]:
    """(bodies in order of first appearance, frames with at least one body). Frames without a body
    are dropped and the rest renumbered; a body occupies the `len` frames from its first one, as
    CTR-GCN counts them. Each body: {"start", "joints" float32 [n, 25, 3], "motion"}, motion = the
    summed per-axis variance of all its joints pooled over frames (float32, as numpy computes it)."""
    frames = np.unique(skel.frame)
    renumbered = np.searchsorted(frames, skel.frame)                    # index among frames with bodies
    bodies = {}
    for i, bid in enumerate(skel.body_id):
        if bid not in bodies:
            bodies[bid] = {"start": int(renumbered[i]), "rows": []}
        bodies[bid]["rows"].append(i)
    out = []
    for b in bodies.values():
        joints = skel.joints[b["rows"]].astype(np.float32)                # [n, 25, 3]
        out.append({"start": b["start"], "joints": joints,
                    "motion": np.sum(np.var(joints.reshape(-1, 3), axis=0)) if len(bodies) > 1 else None})
    return out, len(frames)


def noisy_by_spread(joints: np.ndarray) -> np.ndarray:
    """[n] True where the body is wider than NOISE_SPREAD x its height (old numpy's float64 product)."""
    x_span = joints[..., 0].max(1) - joints[..., 0].min(1)
    y_span = joints[..., 1].max(1) - joints[..., 1].min(1)
    return ~(x_span.astype(np.float64) <= NOISE_SPREAD * y_span.astype(np.float64))


def denoised_actors(skel: Skeleton) -> np.ndarray:
    """CTR-GCN's denoised joints of one sequence: float32 [T, 75] (one actor) or [T, 150] (two).

    One tracked body: its frames. Several: drop bodies of <= 11 frames; then, while more than one
    remains, those wider than tall in >= 69.754 % of their frames (the others' motion becomes the
    smaller of it and that of their valid frames); order by motion; the first is actor 1, each
    following body joins actor 1 if its span does not overlap actor 1's, else actor 2 if not
    overlapping actor 2's (an empty span at [0, 0] to start), else is dropped; frames where all
    150 values sum to 0 are removed. Raises ValueError when every body is noise (CTR-GCN's code
    fails on such a sequence)."""
    bodies, T = tracked_bodies(skel)
    if not bodies:
        raise ValueError("no bodies")

    def one_actor(body) -> np.ndarray:
        joints = np.zeros((T, 75), np.float32)
        joints[body["start"]:body["start"] + len(body["joints"])] = body["joints"].reshape(-1, 75)
        return joints

    if len(bodies) == 1:
        return one_actor(bodies[0])
    bodies = [b for b in bodies if len(b["joints"]) > NOISE_LENGTH]
    if len(bodies) > 1:
        kept = list(bodies)
        for b in bodies:
            if len(kept) == 1:
                break
            noisy = noisy_by_spread(b["joints"])
            if not noisy.any():
                continue
            if noisy.sum() / len(noisy) >= NOISE_SPREAD_RATE:
                kept = [k for k in kept if k is not b]
            else:
                b["motion"] = min(b["motion"], np.sum(np.var(b["joints"][~noisy].reshape(-1, 3), axis=0)))
        bodies = sorted(kept, key=lambda b: b["motion"], reverse=True)   # stable: ties keep appearance order
    if not bodies:
        raise ValueError(f"every body is noise (all seen in at most {NOISE_LENGTH} frames)")
    if len(bodies) == 1:
        joints = one_actor(bodies[0])
    else:
        joints = np.zeros((T, 150), np.float32)
        spans = [None, [0, 0]]                                           # actor 2 starts as the span [0, 0]
        for b in bodies:
            start, end = b["start"], b["start"] + len(b["joints"]) - 1
            if spans[0] is None:
                actor = 0
            else:
                actor = next((a for a in (0, 1) if min(spans[a][1], end) - max(spans[a][0], start) <= 0), None)
            if actor is None:
                continue                                                 # overlaps both actors: dropped
            joints[start:end + 1, 75 * actor:75 * actor + 75] = b["joints"].reshape(-1, 75)
            spans[actor] = [start, end] if spans[actor] is None else [min(start, spans[actor][0]), max(end, spans[actor][1])]
    return joints[joints.sum(axis=1) != 0]


def select_denoise(skel: Skeleton) -> np.ndarray:
    """[T, 2, 25, 3]: CTR-GCN's denoised actors (the second all zeros when there is one)."""
    joints = denoised_actors(skel)
    out = np.zeros((len(joints), 2, NUM_JOINTS, 3), np.float32)
    out.reshape(len(joints), -1)[:, :joints.shape[1]] = joints
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
