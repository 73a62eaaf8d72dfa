"""The NTU `.skeleton` reader as the official tools write it: every field of every joint into a
record, Python loops. The baseline `make bench` times `prepare` against, and the reader the
naive re-implementation in tests/naive.py builds on. Slow on purpose."""
from pathlib import Path

import numpy as np


def read_records(path):
    """Official-reader style: every field of every joint into a record."""
    lines = open(path).read().splitlines()
    frames, i = [], 1
    for _ in range(int(lines[0])):
        bodies = []
        nb = int(lines[i]); i += 1
        for _ in range(nb):
            info = lines[i].split(); i += 1
            nj = int(lines[i]); i += 1
            joints = []
            for _ in range(nj):
                v = lines[i].split(); i += 1
                joints.append({"x": float(v[0]), "y": float(v[1]), "z": float(v[2]), "depthX": float(v[3]),
                               "depthY": float(v[4]), "colorX": float(v[5]), "colorY": float(v[6]),
                               "orientationW": float(v[7]), "orientationX": float(v[8]),
                               "orientationY": float(v[9]), "orientationZ": float(v[10]), "trackingState": int(v[11])})
            bodies.append({"bodyID": info[0], "joints": joints})
        frames.append(bodies)
    return frames


def read_xyz(path: Path) -> np.ndarray:
    """x, y, z of every joint of every body of every frame, stacked: [bodies over frames, 25, 3]."""
    return np.array([[[j["x"], j["y"], j["z"]] for j in b["joints"]] for bodies in read_records(path) for b in bodies])
