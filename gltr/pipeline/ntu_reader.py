"""Vectorised reader for NTU RGB+D `.skeleton` text files (REFERENCE section 1).

Layout: line 1 = frame count; per frame: body count; per body: an info line of 10
fields (bodyID first), a joint-count line (25), then 25 joint lines of 12 fields
(x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState).

The Python loop walks bodies only (a few hundred per file); all joint numbers are
parsed in one `np.fromstring` call. LF and CRLF endings both work.
"""
import warnings
from dataclasses import dataclass

import numpy as np

NUM_JOINTS = 25
JOINT_FIELDS = 12


class SkeletonError(ValueError):
    """A raw file that cannot be read; the message names the problem (and line, 1-based)."""


@dataclass
class Skeleton:
    num_frames: int
    frame: np.ndarray    # [B] int64, frame index of each listed body (bodies in file order)
    body_id: np.ndarray  # [B] uint64, Kinect body ID of each listed body
    joints: np.ndarray   # [B, 25, 3] float64, camera-space x, y, z in metres (as written)


def _int(lines: list, i: int, what: str) -> int:
    if i >= len(lines):
        raise SkeletonError(f"truncated: expected {what} at line {i + 1}, file ends at line {len(lines)}")
    try:
        return int(lines[i])
    except ValueError:
        raise SkeletonError(f"line {i + 1}: expected {what} (an integer), got {lines[i][:40]!r}") from None


def parse_skeleton(data: bytes) -> Skeleton:
    """Parse the bytes of one `.skeleton` file; raise SkeletonError on any malformation."""
    if b"\x00" in data:
        raise SkeletonError("binary data (NUL bytes) in a text file")
    lines = data.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise SkeletonError("empty file")
    num_frames = _int(lines, 0, "frame count")
    if num_frames < 0:
        raise SkeletonError(f"line 1: negative frame count {num_frames}")

    frames, ids, starts = [], [], []  # per body: frame index, info line, first joint line
    i = 1
    for t in range(num_frames):
        num_bodies = _int(lines, i, f"body count of frame {t + 1}")
        if not 0 <= num_bodies <= 16:
            raise SkeletonError(f"line {i + 1}: implausible body count {num_bodies}")
        i += 1
        for _ in range(num_bodies):
            if i >= len(lines):
                raise SkeletonError(f"truncated: body info expected at line {i + 1}")
            ids.append(lines[i].split(maxsplit=1)[0] if lines[i].strip() else b"")
            nj = _int(lines, i + 1, "joint count")
            if nj != NUM_JOINTS:
                raise SkeletonError(f"line {i + 2}: joint count {nj}, expected {NUM_JOINTS}")
            frames.append(t)
            starts.append(i + 2)
            i += 2 + NUM_JOINTS
    if i > len(lines):
        raise SkeletonError(f"truncated: {len(lines)} lines, the frame and body counts need {i}")
    if i < len(lines):
        raise SkeletonError(f"{len(lines) - i} unexpected lines after the last frame (line {i + 1} on)")

    body_id = np.zeros(len(ids), np.uint64)
    for b, tok in enumerate(ids):
        try:
            body_id[b] = int(tok)
        except ValueError:
            raise SkeletonError(f"line {starts[b] - 1}: body ID {tok[:40]!r} is not an integer") from None

    joint_lines = [line for s in starts for line in lines[s:s + NUM_JOINTS]]
    values = _parse_numbers(b" ".join(joint_lines), len(joint_lines))
    if values is None:
        _raise_bad_line(lines, starts)
    values = values.reshape(len(starts), NUM_JOINTS, JOINT_FIELDS)
    return Skeleton(num_frames, np.asarray(frames, np.int64), body_id, np.ascontiguousarray(values[..., :3]))


def _parse_numbers(text: bytes, num_lines: int) -> np.ndarray | None:
    """All joint numbers as float64, or None if the count or the columns are off."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (instead of failing) on a non-numeric token
        try:
            values = np.fromstring(text, dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != num_lines * JOINT_FIELDS:
        return None
    # A line with one field too many next to one with one too few keeps the total right but
    # shifts the columns between them: the tracking state must stay an integer 0, 1 or 2.
    state = values[JOINT_FIELDS - 1::JOINT_FIELDS]
    if not np.all((state == 0) | (state == 1) | (state == 2)) or not np.all(np.isfinite(values)):
        return None
    return values


def _raise_bad_line(lines: list, starts: list) -> None:
    """Slow path, taken only for a broken file: find and name the first bad joint line."""
    for s in starts:
        for i in range(s, s + NUM_JOINTS):
            fields = lines[i].split()
            if len(fields) != JOINT_FIELDS:
                raise SkeletonError(f"line {i + 1}: {len(fields)} fields, expected {JOINT_FIELDS}")
            try:
                numbers = [float(f) for f in fields]
            except ValueError:
                bad = next(f for f in fields if not _is_float(f))
                raise SkeletonError(f"line {i + 1}: non-numeric token {bad[:40]!r}") from None
            if not all(np.isfinite(numbers)):
                raise SkeletonError(f"line {i + 1}: non-finite number")
            if numbers[-1] not in (0.0, 1.0, 2.0):
                raise SkeletonError(f"line {i + 1}: tracking state {fields[-1]!r} is not 0, 1 or 2")
    raise SkeletonError("joint lines could not be parsed")


def _is_float(token: bytes) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False
