"""One raw file -> one prepared sample (runs in the worker processes)."""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gltr.datasets import SUBSAMPLE, Variant
from gltr.pipeline.bodies import select_bodies, trim_leading_empty
from gltr.pipeline.normalize import subsample, to_motion, valid_length
from gltr.pipeline.ntu_reader import SkeletonError, parse_skeleton
from gltr.safety import read_regular


class SampleError(ValueError):
    """A data problem in one raw file; the message says what."""


@dataclass
class Sample:
    sample_id: str
    sha256: str
    raw_bodies: int          # distinct body IDs in the raw file (1 for NW-UCLA)
    joints: np.ndarray       # [L, P, K, 3] float32 camera coordinates of the selected bodies
    motion: np.ndarray       # [L, P, K, 3] float32 model input
    direction: np.ndarray    # [L, I, P, K] uint8
    magnitude: np.ndarray    # [L, I, P, K] uint8


COORD_MAX_M = 100.0     # metres, every dataset: Kinect v1/v2 see 0.5-8 m (the real NTU, PKU-MMD and NW-UCLA files
                        # stay within 5.2 m); 100 m is far beyond any camera, and it keeps the motion (differences,
                        # rotations: < 300) finite in float32 and even float16, and the loss finite in training


def check_coordinates(x: np.ndarray) -> None:
    """SampleError naming the first coordinate of x [T, P, K, 3] that is not finite in float32 or beyond
    ±COORD_MAX_M (a NaN fails too): one bound for every dataset, so nothing absurd reaches the motion or the loss."""
    bad = ~(np.abs(x) <= COORD_MAX_M)
    if not bad.any():
        return
    t, p, k, c = np.argwhere(bad)[0]
    v = float(x[t, p, k, c])
    if not abs(v) <= float(np.finfo(np.float32).max):   # e.g. 1e39: finite in float64, inf in float32
        raise SampleError(f"a coordinate does not fit float32 (|value| > 3.4e38 or not a number): {v:g} "
                          f"(body {p + 1}, joint {k + 1})")
    raise SampleError(f"a coordinate of {v:g} (body {p + 1}, joint {k + 1}) is beyond ±{COORD_MAX_M:g} m: "
                      f"not a body in front of a camera")


def finish(sample_id: str, sha: str, raw_bodies: int, x: np.ndarray, variant: Variant) -> Sample:
    """Selected bodies [T, P, K, 3] -> valid frames, motion and MPDP labels."""
    check_coordinates(x)
    L = valid_length(x, len(x))
    if L == 0:
        raise SampleError("no valid frames: joint 0 of the first person is zero in every frame")
    if variant.long_clips == SUBSAMPLE:                # NW-UCLA: longer clips uniformly subsampled to t_max
        x = subsample(x[:L], variant.t_max)
        L = len(x)
    else:                                              # NTU: the first t_max frames (all take part in the rotation sign)
        x, L = x[:variant.t_max], min(L, variant.t_max)
    left, right = variant.shoulders
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is caught just below, per file
        motion = to_motion(x, variant.centre_joint, left, right, variant.rotation, variant.t_max)[:L]
    if not np.isfinite(motion).all():                  # cannot happen within COORD_MAX_M: a last guard
        raise SampleError("the normalised motion is not finite")
    import torch                                       # imported here: `import gltr.pipeline` stays cheap
    from gltr.pipeline.mpdp import mpdp_labels
    direction, magnitude = mpdp_labels(torch.from_numpy(motion), variant.intervals)
    return Sample(sample_id, sha, raw_bodies, np.ascontiguousarray(x[:L], dtype=np.float32), motion,
                  direction.numpy(), magnitude.numpy())


RAW_MAX_BYTES = 256 << 20       # the largest real NTU file is ~5 MB, NW-UCLA's ~100 kB


def read_raw(path: Path) -> bytes:
    """A raw file's bytes. Opened without blocking and checked to be a regular file on the opened descriptor
    (a file swapped for a FIFO after discovery never hangs the run); larger than RAW_MAX_BYTES is an error."""
    try:
        return read_regular(path, RAW_MAX_BYTES, f"larger than {RAW_MAX_BYTES >> 20} MB: not a skeleton file")
    except ValueError as e:
        raise SampleError(str(e).split(": ", 1)[-1]) from None        # the file is named by the caller's report


def read_ntu(path: Path, variant: Variant) -> Sample:
    data = read_raw(path)
    sha = hashlib.sha256(data).hexdigest()
    try:
        skel = parse_skeleton(data)
    except SkeletonError as e:
        raise SampleError(str(e)) from None
    if len(skel.frame) == 0:
        raise SampleError(f"no bodies in any of its {skel.num_frames} frames")
    x = trim_leading_empty(select_bodies(skel, variant.bodies))
    return finish(path.name.split(".")[0], sha, len(np.unique(skel.body_id)), x, variant)


def read_pku(path: Path, variant: Variant, fields: dict) -> Sample:
    """One PKU-MMD instance: rows [start:end) (or [start-1:end)) of its sequence file, both bodies."""
    from gltr.pipeline.pku import PkuError, cut_instance, read_sequence
    try:
        sha, sequence = read_sequence(path, read_raw)
        x = cut_instance(sequence, fields["start"], fields["end"], variant.clip)    # [L, 2, 25, 3]
    except PkuError as e:
        raise SampleError(str(e)) from None
    raw_bodies = 1 + int(x[:, 1].any())
    x = trim_leading_empty(x)
    if len(x) == 0:
        raise SampleError("the first body is absent in every frame of the instance")
    return finish(f"{path.stem}_{fields['row']:03d}", sha, raw_bodies, x, variant)


def read_ucla(path: Path, variant: Variant, expected_label: int) -> Sample:
    data = read_raw(path)
    sha = hashlib.sha256(data).hexdigest()
    try:
        record = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as e:
        raise SampleError(f"not valid JSON: {str(e)[:80]}") from None
    if not isinstance(record, dict) or "skeletons" not in record:
        raise SampleError("no 'skeletons' key in the JSON object")
    K = variant.joints
    frames = record["skeletons"]
    if not (isinstance(frames, list) and all(isinstance(f, list) and len(f) == K and
                                             all(isinstance(j, list) and len(j) == 3 for j in f) for f in frames)):
        shape = list(np.shape(np.asarray(frames, dtype=object))) if isinstance(frames, list) else type(frames).__name__
        raise SampleError(f"skeletons have shape {shape}, expected [frames, {K}, 3]")
    if not all(type(v) in (int, float) for f in frames for j in f for v in j):   # bool is not a coordinate
        raise SampleError("skeletons hold a value that is not a number (a string, boolean or null)")
    x = np.asarray(frames, dtype=np.float32).reshape(len(frames), K, 3)
    if not np.isfinite(x).all():
        raise SampleError("non-finite coordinates")
    label = record.get("label")
    if label is not None:
        if type(label) is not int:
            raise SampleError(f"label {label!r} is not an integer")
        if label - 1 != expected_label:
            raise SampleError(f"label {label} in the file disagrees with the file name (class {expected_label + 1})")
    return finish(path.stem, sha, 1, x[:, None], variant)      # [T, 1, K, 3]
