"""Vectorised reader for NTU RGB+D `.skeleton` text files (docs/preprocessing.md).

Layout: line 1 = frame count; per frame: body count; per body: an info line of 10
fields (bodyID first), a joint-count line (25), then 25 joint lines of 12 fields
(x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState).

The Python loop walks bodies only (a few hundred per file); the joint lines are then parsed
in one call of Arrow's C++ CSV reader, which checks that every line has 12 fields and converts
x, y, z (float64, as written) and the tracking state (an integer 0-2, which also catches shifted
columns); the other seven fields are counted, not converted, since nothing uses them.
LF and CRLF endings both work.
"""
import io
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

NUM_JOINTS = 25
JOINT_FIELDS = 12
_COLUMNS = [f"f{i}" for i in range(JOINT_FIELDS)]
_USED = {"f0": pa.float64(), "f1": pa.float64(), "f2": pa.float64(), "f11": pa.int8()}  # x, y, z, trackingState
_READ = pcsv.ReadOptions(column_names=_COLUMNS, use_threads=False, block_size=1 << 26)
_PARSE = pcsv.ParseOptions(delimiter=" ", quote_char=False, double_quote=False)
_CONVERT = pcsv.ConvertOptions(column_types=_USED, include_columns=list(_USED), null_values=[], strings_can_be_null=False)


class SkeletonError(ValueError):
    """A raw file that cannot be read; the message names the problem (and line, 1-based)."""


@dataclass
class Skeleton:
    num_frames: int
    frame: np.ndarray    # [B] int64, frame index of each listed body (bodies in file order)
    body_id: np.ndarray  # [B] uint64, Kinect body ID of each listed body
    joints: np.ndarray   # [B, 25, 3] float64, camera-space x, y, z in metres (as written)


class _Lines:
    """Lines of a file addressed by byte offsets (no per-line objects until asked for)."""

    def __init__(self, data: bytes):
        if not data.endswith(b"\n"):
            data += b"\n"
        self.data = data
        ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
        self.start = np.concatenate([[0], ends + 1]).tolist()     # line i is data[start[i]:start[i + 1]]
        n = len(ends)
        while n and not data[self.start[n - 1]:self.start[n]].strip():
            n -= 1                                                   # trailing blank lines
        self.count = n

    def __getitem__(self, i: int) -> bytes:
        return self.data[self.start[i]:self.start[i + 1]]

    def block(self, first: int, n: int) -> bytes:
        return self.data[self.start[first]:self.start[first + n]]

    def int(self, i: int, what: str) -> int:
        if i >= self.count:
            raise SkeletonError(f"truncated: expected {what} at line {i + 1}, file ends at line {self.count}")
        if not INTEGER.fullmatch(self[i]):
            raise SkeletonError(f"line {i + 1}: expected {what} (an integer), got {self[i].strip()[:40]!r}")
        return int(self[i])


INTEGER = re.compile(rb"\s*[0-9]{1,20}\s*")        # ASCII digits only: Python's int() would also take b"1_000", b"+1"


def parse_skeleton(data: bytes) -> Skeleton:
    """Parse the bytes of one `.skeleton` file; raise SkeletonError on any malformation."""
    if b"\x00" in data:
        raise SkeletonError("binary data (NUL bytes) in a text file")
    if data.startswith(b"\xef\xbb\xbf"):          # a UTF-8 byte-order mark, as some editors write
        data = data[3:]
    lines = _Lines(data)
    if lines.count == 0:
        raise SkeletonError("empty file")
    num_frames = lines.int(0, "frame count")
    if num_frames < 0:
        raise SkeletonError(f"line 1: negative frame count {num_frames}")

    frames, ids, starts = [], [], []  # per body: frame index, info line, first joint line
    i = 1
    for t in range(num_frames):
        num_bodies = lines.int(i, f"body count of frame {t + 1}")
        if not 0 <= num_bodies <= 16:
            raise SkeletonError(f"line {i + 1}: implausible body count {num_bodies}")
        i += 1
        for _ in range(num_bodies):
            if i >= lines.count:
                raise SkeletonError(f"truncated: body info expected at line {i + 1}")
            ids.append(lines[i])
            nj = lines.int(i + 1, "joint count")
            if nj != NUM_JOINTS:
                raise SkeletonError(f"line {i + 2}: joint count {nj}, expected {NUM_JOINTS}")
            frames.append(t)
            starts.append(i + 2)
            i += 2 + NUM_JOINTS
    if i > lines.count:
        raise SkeletonError(f"truncated: {lines.count} lines, the frame and body counts need {i}")
    if i < lines.count:
        raise SkeletonError(f"{lines.count - i} unexpected lines after the last frame (line {i + 1} on)")

    body_id = np.zeros(len(ids), np.uint64)
    for b, info in enumerate(ids):
        tok = info.split(maxsplit=1)[0] if info.strip() else b""
        if not INTEGER.fullmatch(tok) or int(tok) >= 1 << 64:
            raise SkeletonError(f"line {starts[b] - 1}: body ID {tok[:40]!r} is not an integer")
        body_id[b] = int(tok)

    if not starts:
        return Skeleton(num_frames, np.zeros(0, np.int64), body_id, np.zeros((0, NUM_JOINTS, 3)))
    xyz = _parse_joint_lines(b"".join([lines.block(s, NUM_JOINTS) for s in starts]), NUM_JOINTS * len(starts))
    if xyz is None:                # not single-space separated, or broken: the slow path parses or names the line
        xyz = _parse_slowly(data.split(b"\n"), starts)
    return Skeleton(num_frames, np.asarray(frames, np.int64), body_id, xyz.reshape(len(starts), NUM_JOINTS, 3))


def _parse_joint_lines(text: bytes, num_lines: int) -> np.ndarray | None:
    """[num_lines, 3] float64 x, y, z, or None if any line is malformed (the slow path says which)."""
    try:
        table = pcsv.read_csv(io.BytesIO(text), read_options=_READ, parse_options=_PARSE, convert_options=_CONVERT)
    except pa.ArrowInvalid:
        return None
    state = table.column("f11").to_numpy()
    xyz = np.stack([table.column(c).to_numpy() for c in ("f0", "f1", "f2")], axis=-1)
    if len(xyz) != num_lines or state.min() < 0 or state.max() > 2 or not np.isfinite(xyz).all():
        return None
    return xyz


def _parse_slowly(lines: list, starts: list) -> np.ndarray:
    """[B * 25, 3] float64 x, y, z, line by line, any whitespace between fields; or SkeletonError naming
    the first bad joint line. Taken only when the fast path fails (tabs, double spaces, a broken file)."""
    xyz = np.empty((len(starts) * NUM_JOINTS, 3))
    for b, s in enumerate(starts):
        for j, i in enumerate(range(s, s + NUM_JOINTS)):
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
            xyz[b * NUM_JOINTS + j] = numbers[:3]
    return xyz


def _is_float(token: bytes) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False
