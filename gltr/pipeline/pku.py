"""PKU-MMD Phase I and II: long sequences cut into labelled action instances (REFERENCE section 11).

    <raw>/skeleton/<sequence>.txt    one text row per frame: 2 bodies x 25 joints x xyz = 150 numbers
    <raw>/label/<sequence>.txt       one row per instance: action_id,start_frame,end_frame,confidence
    <raw>/cross_subject[_v2].txt     line 2: the training sequences, separated by ", " (also cross-subject.txt)
    <raw>/cross_view[_v2].txt        the same for the cross-view benchmark

Each label row becomes one sample `<sequence>_<row>` (row 0-based, 3 digits, as MAMP's `<file>_<idx>`),
class action_id - 1, frames [start:end) of the sequence (MAMP's slice; AimCLR's [start-1:end) is the
`--clip start-1:end` variant). A missing split file skips its benchmark; a row that cannot be an
instance fails with its reason and the run goes on.
"""
import hashlib
import re
from pathlib import Path

import numpy as np

from gltr.pipeline.discover import Found, Task, walk
from gltr.safety import read_regular

SEQUENCE_NAMES = {"pkummd1": re.compile(r"^(\d{4})-([LMR])\Z", re.ASCII),
                  "pkummd2": re.compile(r"^A(\d{2})N(\d{2})-([LMR])\Z", re.ASCII)}
NAME_PATTERNS = {"pkummd1": "NNNN-L|M|R", "pkummd2": "AaaNnn-L|M|R"}
SPLIT_FILES = {"pkummd1": {"xsub": ("cross_subject.txt", "cross-subject.txt"),
                           "xview": ("cross_view.txt", "cross-view.txt")},
               "pkummd2": {"xsub": ("cross_subject_v2.txt", "cross-subject_v2.txt"),
                           "xview": ("cross_view_v2.txt", "cross-view_v2.txt")}}
VIEWS = "LMR"
VALUES_PER_FRAME = 150                 # 2 bodies x 25 joints x xyz
LABEL_MAX_BYTES = 1 << 20              # a real label file is ~1 kB
SPLIT_MAX_BYTES = 4 << 20              # a real split file is ~10 kB
ALL_ZERO = "all-zero instance (MAMP drops these silently)"


class PkuError(ValueError):
    """A data problem in a PKU-MMD file or row; the message says what."""


def parse_sequence(data: bytes) -> np.ndarray:
    """[frames, 150] float32 of a skeleton file, parsed as float64 and cast (numpy.loadtxt's values, as MAMP's
    script stores them). One vectorised parse; a row without 150 numbers is named."""
    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines:
        raise PkuError("empty skeleton file")
    try:
        values = np.array(data.split(), dtype=np.float64)
    except ValueError as e:
        raise PkuError(f"not a number: {str(e).split(':')[-1].strip()[:40]}") from None
    if len(values) != VALUES_PER_FRAME * len(lines):
        bad = next((i for i, line in enumerate(lines) if len(line.split()) != VALUES_PER_FRAME), None)
        raise PkuError(f"row {bad + 1} holds {len(lines[bad].split())} numbers, not {VALUES_PER_FRAME}")
    if not np.isfinite(values).all():
        raise PkuError("non-finite coordinates")
    return values.reshape(len(lines), VALUES_PER_FRAME).astype(np.float32)


def parse_labels(data: bytes) -> list:
    """One entry per non-empty row: (action_id, start, end) or the reason the row is not an instance."""
    rows = []
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            rows.append(f"row {line.strip()[:40]!r} has {len(parts)} fields, not action,start,end[,confidence]")
            continue
        try:
            numbers = [float(p) for p in parts[:3]]
        except ValueError:
            rows.append(f"row {line.strip()[:40]!r}: a field is not a number")
            continue
        if not all(np.isfinite(n) and n == int(n) for n in numbers):
            rows.append(f"row {line.strip()[:40]!r}: class, start and end must be integers")
            continue
        rows.append(tuple(int(n) for n in numbers))
    return rows


def read_split(path: Path) -> frozenset:
    """The training sequence names of a split file: its line 2, comma-separated (MAMP: `lines[1].split(', ')`)."""
    text = read_regular(path, SPLIT_MAX_BYTES, f"larger than {SPLIT_MAX_BYTES >> 20} MB: not a PKU-MMD split file")
    lines = text.decode("utf-8", "replace").splitlines()
    if len(lines) < 2:
        raise ValueError(f"{path}: no line 2 (the training sequences)")
    return frozenset(n.strip() for n in lines[1].split(",") if n.strip())


def instance_frames(start: int, end: int, clip: str) -> tuple[int, int]:
    """The [first, stop) rows of an instance: MAMP's seq[start:end], AimCLR's seq[start-1:end]."""
    return (start if clip == "start:end" else start - 1), end


def cut_instance(sequence: np.ndarray, start: int, end: int, clip: str) -> np.ndarray:
    """[L, 2, 25, 3] float32 of one instance; PkuError for rows outside the sequence or an all-zero instance."""
    first, stop = instance_frames(start, end, clip)
    if first < 0 or first >= stop:
        raise PkuError(f"frames {start}-{end}: start must be below end (and at least {1 if clip != 'start:end' else 0})")
    if stop > len(sequence):
        raise PkuError(f"frames {start}-{end} run past the sequence's {len(sequence)} frames")
    x = sequence[first:stop]
    if not x.any():
        raise PkuError(ALL_ZERO)
    return x.reshape(len(x), 2, 25, 3)


def discover_pku(dataset: str, raw: Path, num_classes: int, benchmarks: tuple, log=print) -> Found:
    """Tasks (one per label row) of the sequences under <raw>/skeleton, with each benchmark's split from its file."""
    found = Found()
    if not raw.is_dir():
        raise FileNotFoundError(f"raw folder {raw} does not exist")
    if not (raw / "skeleton").is_dir():
        raise FileNotFoundError(f"{raw}/skeleton does not exist: PKU-MMD's raw folder holds skeleton/, label/ "
                                f"and the split files")
    training = {}
    for b in benchmarks:
        path = next((raw / n for n in SPLIT_FILES[dataset][b] if (raw / n).is_file()), None)
        if path is None:
            log(f"{raw}/{SPLIT_FILES[dataset][b][0]}: not found: benchmark {b} skipped")
            continue
        training[b] = read_split(path)
    if not training:
        raise FileNotFoundError(f"{raw}: none of the split files ({', '.join(n for b in benchmarks for n in SPLIT_FILES[dataset][b][:1])})")
    found.benchmarks = tuple(training)
    pattern, sequences = SEQUENCE_NAMES[dataset], set()
    for path in walk(raw / "skeleton", ".txt", found.failed):
        found.files_seen += 1
        rel, name = str(path.relative_to(raw)), path.stem
        fields = pattern.match(name)
        if fields is None:
            found.failed.append({"file": rel, "reason": f"bad file name, expected {NAME_PATTERNS[dataset]}.txt"})
            continue
        if name in sequences:
            found.duplicates.append({"file": rel, "duplicate_of": f"skeleton/{name}.txt"})
            continue
        sequences.add(name)
        label_path = raw / "label" / f"{name}.txt"
        try:
            data = read_regular(label_path, LABEL_MAX_BYTES, f"larger than {LABEL_MAX_BYTES >> 20} MB: not a label file")
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e).split(": ")[-1]
            found.failed.append({"file": f"label/{name}.txt", "reason": f"cannot read the label file: {why}"})
            continue
        splits = {b: "train" if name in names else "test" for b, names in training.items()}
        for row, entry in enumerate(parse_labels(data)):
            where = f"label/{name}.txt row {row + 1}"
            if isinstance(entry, str):
                found.failed.append({"file": where, "reason": entry})
                continue
            action, start, end = entry
            if not 1 <= action <= num_classes:
                found.failed.append({"file": where, "reason": f"class {action} out of range 1-{num_classes}"})
                continue
            found.tasks.append(Task(f"{name}_{row:03d}", path, {"view": VIEWS.index(name[-1]) + 1, "row": row,
                                                               "start": start, "end": end}, action - 1,
                                    splits=splits))
    for b, names in training.items():
        found.listed_without_skeleton[b] = sorted(names - sequences)
    found.tasks.sort(key=lambda t: t.sample_id)
    return found


_last = {"path": None, "sha": None, "sequence": None}      # a worker's last parsed sequence: rows of one file in turn


def read_sequence(path: Path, read_raw) -> tuple[str, np.ndarray]:
    """(sha256, [frames, 150]) of a skeleton file; the rows of one sequence reuse its parse."""
    if _last["path"] != path:
        data = read_raw(path)
        _last["path"] = None                                # a file that does not parse is never cached
        _last.update(sha=hashlib.sha256(data).hexdigest(), sequence=parse_sequence(data), path=path)
    return _last["sha"], _last["sequence"]
