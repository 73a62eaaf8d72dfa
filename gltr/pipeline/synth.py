"""`gltr synth`: synthetic raw data in the genuine file formats, with class-dependent motion.

    gltr synth ntu --out /tmp/raw --samples 200 --seed 0

NTU: `.skeleton` text (12 fields per joint line), half LF and half CRLF; a third of the files
are two-person (a partner doing the same action, whatever the class); about a fifth carry a
static noise body, a few start with empty frames. NW-UCLA: `all_sqe`-style JSON. The classes
differ in how the limbs move (the rhythm and speed of a pumping motion), never in a pose: a
single frame says nothing about the class (see `class_motion`).
"""
import functools
import json
from pathlib import Path

import numpy as np

from gltr.datasets import UCLA_ACTIONS
from gltr.pipeline.names import missing_list

# A standing person (metres, camera space, facing the camera), NTU joint order.
NTU_POSE = np.array([
    [0.00, 0.00, 0.0], [0.00, 0.28, 0.0], [0.00, 0.52, 0.0], [0.00, 0.66, 0.0], [-0.18, 0.46, 0.0],
    [-0.22, 0.22, 0.0], [-0.24, 0.00, 0.0], [-0.24, -0.06, 0.0], [0.18, 0.46, 0.0], [0.22, 0.22, 0.0],
    [0.24, 0.00, 0.0], [0.24, -0.06, 0.0], [-0.09, -0.02, 0.0], [-0.10, -0.42, 0.0], [-0.10, -0.80, 0.0],
    [-0.10, -0.86, 0.08], [0.09, -0.02, 0.0], [0.10, -0.42, 0.0], [0.10, -0.80, 0.0], [0.10, -0.86, 0.08],
    [0.00, 0.46, 0.0], [-0.24, -0.12, 0.0], [-0.22, -0.08, 0.03], [0.24, -0.12, 0.0], [0.22, -0.08, 0.03],
])
NTU_LIMBS = [[5, 6, 7, 21, 22], [9, 10, 11, 23, 24], [13, 14, 15], [17, 18, 19]]  # arms, legs
# Kinect v1 order (NW-UCLA): the first 20 NTU joints minus SpineShoulder, re-ordered.
UCLA_FROM_NTU = [0, 1, 20, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
UCLA_LIMBS = [[5, 6, 7], [9, 10, 11], [13, 14, 15], [17, 18, 19]]


def class_motion(rng, label: int, T: int, pose: np.ndarray, limbs: list) -> np.ndarray:
    """[T, K, 3] one person performing class `label`: two limbs pumping back and forth along a slant.

    The classes differ only in how things move: the rhythm's asymmetry (label % 2: a quick rise
    and slow fall, or a slow rise and quick fall) and its period ((label // 2) % 3: 12, 20 or 30
    frames). Each limb follows a sawtooth from a random start phase, so in every class its
    position is uniform over the same segment: the same poses, with the same per-frame
    distribution. Only motion tells the classes apart. Labels 6 and up move other limbs (arms,
    then legs). The walk, the facing and the place are random.
    The segment slants up, outwards and towards the camera, and the jitter (1 mm) is small beside
    a frame's movement, so a moving joint's displacement has a definite sign on every axis, as in
    real movements; with limbs moving straight up and 4 mm jitter, the x and z signs of the MPDP
    direction labels were noise even for moving joints, and tiny() learned nothing about them.
    """
    t = np.arange(T)
    rise = 0.25 if label % 2 == 0 else 0.75                      # fraction of the period spent rising
    period = (12, 20, 30)[(label // 2) % 3] * rng.uniform(0.9, 1.1)
    first = 2 * ((label // 6) % (len(limbs) // 2))
    amplitude = rng.uniform(0.15, 0.25)
    x = np.repeat(pose[None], T, 0) + rng.normal(0, 0.001, (T, len(pose), 3))
    for side, limb in zip((-1, 1), limbs[first:first + 2]):   # the left limb (x < 0 in the pose) first
        u = (rng.uniform(0, 1) + t / period) % 1.0                                     # [T] phase in [0, 1)
        height = np.where(u < rise, u / rise, (1 - u) / (1 - rise))                      # [T] sawtooth in [0, 1]
        weight = np.linspace(0.5, 1.0, len(limb))                                        # elbow moves less than hand
        way = np.array([0.6 * side, 1.0, -0.7])                                          # up, outwards, to the camera
        x[:, limb] += amplitude * (height[:, None, None] - 0.5) * weight[None, :, None] * way
    heading = rng.uniform(0, 2 * np.pi)                          # a slow walk, any way
    x += 0.003 * rng.uniform(0, 1) * np.stack([np.cos(heading), 0.0, np.sin(heading)])[None, None] * t[:, None, None]
    yaw = rng.uniform(-0.6, 0.6)                                 # the person faces a random way
    c, s = np.cos(yaw), np.sin(yaw)
    x = x @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T
    return x + np.array([rng.uniform(-0.5, 0.5), 0.1, rng.uniform(2.8, 3.6)])


def ntu_text(frames: list, crlf: bool) -> bytes:
    """frames: list of lists of (body_id, [25, 3] joints) -> `.skeleton` file bytes."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines.append(f"{body_id} 0 1 1 1 1 0 0.01 0.02 2")
            lines.append("25")
            for x, y, z in joints:
                u, v = 256 + 200 * x / z, 212 - 200 * y / z
                lines.append(f"{x:.7g} {y:.7g} {z:.7g} {u:.4f} {v:.4f} {u * 3.75:.3f} {v * 2.55:.3f} 0 0 0 0 2")
    return ("\r\n" if crlf else "\n").join(lines).encode() + (b"\r\n" if crlf else b"\n")


def synth_ntu(out: Path, samples: int, seed: int, classes: int = 10, lengths: tuple = (40, 120)) -> list[Path]:
    """Write `samples` NTU `.skeleton` files (actions 1..classes; a random third two-person; lengths drawn from `lengths`)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    actions = [a for a in range(1, classes + 1)]
    paths, used = [], set(missing_list("ntu60") | missing_list("ntu120"))  # never a name on the missing lists
    for i in range(samples):
        action = actions[i % classes]
        while True:
            setup, camera, subject, rep = rng.integers(1, 3), rng.integers(1, 4), rng.integers(1, 11), rng.integers(1, 3)
            name = f"S{setup:03d}C{camera:03d}P{subject:03d}R{rep:03d}A{action:03d}"
            if name not in used:
                used.add(name)
                break
        T = int(rng.integers(*lengths))
        persons = [class_motion(rng, action - 1, T, NTU_POSE, NTU_LIMBS)]
        if rng.random() < 1 / 3:                         # a partner doing the same action beside them
            persons.append(class_motion(rng, action - 1, T, NTU_POSE, NTU_LIMBS) + np.array([0.8, 0, 0.2]))
        frames = [[(72057594037931101 + 7 * i + p, persons[p][t]) for p in range(len(persons))] for t in range(T)]
        if rng.random() < 0.2:                           # a static noise body ~2 m aside in every frame
            noise = NTU_POSE * 0.5 + np.array([2.0, 0.0, 4.0]) + rng.normal(0, 0.01, (25, 3))
            for bodies in frames:
                bodies.append((72057594037931101 + 7 * i + 5, noise))
        if rng.random() < 0.1:                           # empty leading frames
            frames = [[] for _ in range(int(rng.integers(1, 6)))] + frames
        path = out / f"{name}.skeleton"
        path.write_bytes(ntu_text(frames, crlf=bool(i % 2)))
        paths.append(path)
    return paths


def synth_nwucla(out: Path, samples: int, seed: int, classes: int = 10, lengths: tuple = (15, 80)) -> list[Path]:
    """Write `samples` NW-UCLA JSON files: classes in turn, each class's clips in turn over the 3 views (so
    every view holds a third of every class), then the 10 subjects; lengths drawn from `lengths`."""
    if not 1 <= classes <= len(UCLA_ACTIONS):
        raise ValueError(f"NW-UCLA has {len(UCLA_ACTIONS)} classes, not {classes}")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pose = NTU_POSE[UCLA_FROM_NTU]
    paths = []
    for i in range(samples):
        label, view, subject = i % classes, 1 + (i // classes) % 3, 1 + (i // (3 * classes)) % 10
        episode = i // (30 * classes)
        name = f"a{UCLA_ACTIONS[label]:02d}_s{subject:02d}_e{episode:02d}_v{view:02d}"
        T = int(rng.integers(*lengths))
        x = class_motion(rng, label, T, pose, UCLA_LIMBS)
        record = {"file_name": name, "skeletons": np.round(x, 6).tolist(), "label": label + 1}
        path = out / f"{name}.json"
        path.write_text(json.dumps(record))
        paths.append(path)
    return paths


def pku_name(phase: int, number: int, view: str) -> str:
    """Phase I '0002-L'; Phase II 'A01N02-L' (sequence `number` spread over actions 1-41 x episodes)."""
    return f"{number:04d}-{view}" if phase == 1 else f"A{1 + number % 41:02d}N{1 + number // 41:02d}-{view}"


def synth_pku(out: Path, sequences: int, seed: int, phase: int = 2, classes: int = 10,
              instances: tuple = (3, 6), lengths: tuple = (40, 120)) -> list[Path]:
    """Write a PKU-MMD Phase `phase` raw folder: `sequences` long sequences (views L, M, R in turn) in
    skeleton/, their label files in label/ (one row per instance, `action,start,end,confidence`,
    classes in turn), and the two split files (train: the first two thirds of the sequence numbers for
    xsub, views M and R for xview). A sequence holds 3-5 instances separated by idle frames; a third
    have a second person doing the same action, and rows after the first begin with a space, as in
    the real files."""
    limit = 51 if phase == 1 else 41
    if not 1 <= classes <= limit:
        raise ValueError(f"PKU-MMD Phase {phase} has {limit} classes, not {classes}")
    out = Path(out)
    for sub in ("skeleton", "label"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths, names, next_class = [], [], 0
    for i in range(sequences):
        name = pku_name(phase, 2 + i // 3, "LMR"[i % 3])
        names.append(name)
        two = rng.random() < 1 / 3
        pieces, rows = [], []
        frame = int(rng.integers(5, 30))
        idle = lambda n: np.repeat(NTU_POSE[None] + np.array([0, 0.1, 3.0]), n, 0)       # [n, 25, 3] standing still
        pieces.append(idle(frame))
        for _ in range(int(rng.integers(*instances))):
            label, T = next_class % classes, int(rng.integers(*lengths))
            next_class += 1
            pieces.append(class_motion(rng, label, T, NTU_POSE, NTU_LIMBS))
            rows.append((label + 1, frame, frame + T, int(rng.integers(1, 3))))
            gap = int(rng.integers(5, 30))
            pieces.append(idle(gap))
            frame += T + gap
        first = np.concatenate(pieces)                                                   # [F, 25, 3]
        second = first + np.array([0.8, 0.0, 0.2]) if two else np.zeros_like(first)
        values = np.concatenate([first.reshape(len(first), 75), second.reshape(len(first), 75)], axis=1)
        text = "\n ".join(" ".join(f"{v:.6f}" for v in row) for row in values) + "\n"
        path = out / "skeleton" / f"{name}.txt"
        path.write_text(text)
        (out / "label" / f"{name}.txt").write_text("".join(f"{a},{s},{e},{c}\n" for a, s, e, c in rows))
        paths.append(path)
    numbers = sorted({n.split("-")[0] for n in names})
    xsub = [n for n in names if numbers.index(n.split("-")[0]) < 2 * len(numbers) / 3]
    xview = [n for n in names if n[-1] in "MR"]
    suffix = "" if phase == 1 else "_v2"
    for benchmark, train in (("cross_subject", xsub), ("cross_view", xview)):
        test = [n for n in names if n not in train]
        (out / f"{benchmark}{suffix}.txt").write_text(
            f"Training videos: \n{', '.join(train)}\nValidataion videos: \n{', '.join(test)}\n")
    return paths


# `gltr synth KIND`: each raw format and its writer (out, samples, seed, classes=...)
WRITERS = {"ntu": synth_ntu, "nwucla": synth_nwucla,
           "pkummd1": functools.partial(synth_pku, phase=1), "pkummd2": functools.partial(synth_pku, phase=2)}
