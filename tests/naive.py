"""Deliberately naive, independent implementations of REFERENCE sections 1-4, written the way the
original readers are: per-joint records, Python loops, a zero-padded T_max array. Slow; tests only."""
import math

import numpy as np

from gltr.bench.official_style import read_records  # noqa: F401  (the one official-style reader)


def select(frames, rule, t_max=300):
    """[t_max, 2, 25, 3] float64 padded array, as the reference readers build it."""
    slots = 2 if rule == "first2" else 4
    data = np.zeros((len(frames), slots, 25, 3))
    for t, bodies in enumerate(frames):
        for m, body in enumerate(bodies[:slots]):
            for v, j in enumerate(body["joints"]):
                data[t, m, v] = [j["x"], j["y"], j["z"]]
    if rule == "energy":
        energy = []
        for m in range(slots):
            s = data[:, m]
            keep = [t for t in range(len(s)) if s[t].sum() != 0]
            energy.append(0.0 if not keep else sum(s[keep][..., a].std() for a in range(3)))
        data = data[:, list(np.argsort(energy)[::-1][:2])]
    if data[0, 0, 0, 0] == 0:
        for t in range(len(data)):
            if data[t, 0, 0, 0] != 0:
                data = data[t:]
                break
    padded = np.zeros((t_max, 2, 25, 3))
    n = min(len(data), t_max)
    padded[:n] = data[:n]
    return padded


def normalise(x, c=20, left=4, right=8, per_frame=False):
    """x: [T_max, P, K, 3] padded -> (motion [L, P, K, 3] float32, L), in the reference's dtype chain
    (REFERENCE section 3): float32 coordinates and angle, float64 rotation of the float32 values."""
    f32 = np.float32
    x = x.astype(f32)
    T, P, K, _ = x.shape
    L = min(sum(1 for t in range(T) if abs(x[t, 0, 0]).sum() != 0), T)
    out = np.zeros(x.shape, np.float64)
    for p in range(P):
        rel = np.zeros((T, K, 3), f32)
        for t in range(T):
            for v in range(K):
                rel[t, v] = x[t, p, c] - x[0, p, c] if v == c else x[t, p, v] - x[t, p, c]
        shoulder = [rel[t, right] - rel[t, left] for t in range(T)]          # float32
        total_z = f32(0)
        for s in shoulder:
            total_z = f32(total_z + s[2])
        for t in range(T):
            vx, vz = shoulder[t][0], shoulder[t][2]
            degrees = np.arccos(vx / (np.sqrt(vx * vx + vz * vz) + f32(1e-4))) * f32(180 / math.pi)
            angle = degrees * f32(math.pi) / f32(180)
            if (vz >= 0) if per_frame else (total_z >= 0):
                angle = -angle
            cos, sin = float(np.cos(angle)), float(np.sin(angle))          # float32 values, as float64
            for v in range(K):
                px, py, pz = (float(a) for a in rel[t, v])
                out[t, p, v] = [cos * px - sin * pz, py, sin * px + cos * pz]
    return out[:L].astype(np.float32), L


def mpdp(x, intervals=(1, 5, 10)):
    """x: [T, P, K, 3] float32 -> direction, magnitude [T, I, P, K], one token at a time in float64."""
    T, P, K, _ = x.shape
    direction = np.zeros((T, len(intervals), P, K), np.uint8)
    magnitude = np.zeros((T, len(intervals), P, K), np.uint8)
    absent = P > 1 and float(x[0, 1].astype(np.float64).sum()) == 0.0
    for t in range(T):
        for i, n in enumerate(intervals):
            for p in range(P):
                for v in range(K):
                    d = [float(a) - float(b) for a, b in zip(x[max(t - n, 0), p, v], x[t, p, v])]  # float64
                    s = [0 if a < 0 else 1 if a == 0 else 2 for a in d]
                    direction[t, i, p, v] = s[0] + 3 * s[1] + 9 * s[2]
                    m = math.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
                    if p == 1 and absent:
                        magnitude[t, i, p, v] = 15
                    elif m == 0:
                        magnitude[t, i, p, v] = 0
                    else:
                        magnitude[t, i, p, v] = min(math.floor(m / 0.01) + 1, 14)
    return direction, magnitude
