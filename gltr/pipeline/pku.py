"""PKU-MMD Phase I and II: long sequences cut into labelled action instances (docs/dataset.md, "PKU-MMD").

    <raw>/skeleton/<sequence>.txt    one text row per frame: 2 bodies x 25 joints x xyz = 150 numbers
    <raw>/label/<sequence>.txt       one row per instance: action_id,start_frame,end_frame,confidence
    <raw>/cross_subject[_v2].txt     line 2: the training sequences, separated by ", " (also cross-subject.txt)
    <raw>/cross_view[_v2].txt        the same for the cross-view benchmark

Each label row becomes one sample `<sequence>_<row>` (row 0-based, 3 digits, as MAMP's `<file>_<idx>`),
class action_id - 1, frames [start:end) of the sequence (MAMP's slice; AimCLR's [start-1:end) is the
`--clip start-1:end` variant). A missing split file skips its benchmark; a row that cannot be an
instance fails with its reason and the run goes on.

Every file splits into rows at \\n only (\\r\\n accepted), never where str.splitlines also splits (\\f, \\v,
\\x1c-\\x1e, \\x85, \\u2028): a skeleton row holds exactly 150 decimal numbers separated by spaces or tabs; a label
row 3 or 4 integers in ASCII digits. A non-finite value fails only the instances that hold it. The instances of
one sequence may hold at most MAX_COVER x its frames (`overlap_problem`), else its label file fails whole.
"""
import hashlib
import re
from pathlib import Path

import numpy as np

from gltr.datasets import DATASETS
from gltr.pipeline.discover import Found, Task, walk
from gltr.safety import read_regular

SPLIT_FILES = {"pkummd1": {"xsub": ("cross_subject.txt", "cross-subject.txt"),
                           "xview": ("cross_view.txt", "cross-view.txt")},
               "pkummd2": {"xsub": ("cross_subject_v2.txt", "cross-subject_v2.txt"),
                           "xview": ("cross_view_v2.txt", "cross-view_v2.txt")}}
VALUES_PER_FRAME = 150                 # 2 bodies x 25 joints x xyz
LABEL_MAX_BYTES = 1 << 20              # a real label file is ~1 kB
SPLIT_MAX_BYTES = 4 << 20              # a real split file is ~10 kB
NUMBER_BYTES = b"0123456789+-.eEinfatyINFATY"   # decimals, exponents, inf, infinity, nan (any case)
MIN_ROW_BYTES = 2 * VALUES_PER_FRAME   # 150 one-digit numbers, 149 separators and a newline: bounds the row count
CHUNK_ROWS = 256                       # rows parsed at once: ~1.5 MB of tokens, whatever the file's size
LABEL_FIELD = re.compile(r"[ \t]*[0-9]{1,9}[ \t]*", re.ASCII)
MAX_COVER = 2                          # instance frames per sequence frame (see overlap_problem). Real label
                                       # files tile a sequence with idle gaps between instances (<= 1 x its frames);
                                       # 2 leaves room for overlapping annotations and caps what one sequence writes
                                       # at twice its frames (a 12 kB label file of 1,000 overlapping rows wrote
                                       # 178 MB; the 1 MB label cap alone allowed ~16 GB per sequence)
ALL_ZERO = "all-zero instance (MAMP drops these silently)"


class PkuError(ValueError):
    """A data problem in a PKU-MMD file or row; the message says what."""


def text_lines(data: bytes) -> list[str]:
    """The lines of a small text file (label, split), split at \\n only, a \\r before it dropped: never at \\f,
    \\v, \\x1c-\\x1e, \\x85 or \\u2028, where str.splitlines splits (and the row numbers would drift from MAMP's)."""
    return [line.removesuffix("\r") for line in data.decode("utf-8", "replace").split("\n")]


def skeleton_rows(data: bytes):
    """(line number, row bytes) of every non-blank line of a skeleton file, split at b"\\n" only, a b"\\r" before it
    dropped; one line at a time (never a list of the file's lines). Blank lines are skipped, as numpy.loadtxt does."""
    start, number = 0, 0
    while start < len(data):
        stop = data.find(b"\n", start)
        stop = len(data) if stop < 0 else stop
        number += 1
        row = data[start:stop].removesuffix(b"\r")
        start = stop + 1
        if row.strip():
            yield number, row


def parse_rows(rows: list) -> np.ndarray:
    """[len(rows), 150] float64 of (line number, row) pairs: 150 decimal numbers (or inf, nan) per row, separated
    by spaces or tabs. PkuError names the first bad line."""
    tokens = []
    for line, row in rows:
        if stray := row.translate(None, NUMBER_BYTES + b" \t"):
            raise PkuError(f"line {line} holds {stray[:1]!r}, not part of a number")
        values = row.split()
        if len(values) != VALUES_PER_FRAME:
            raise PkuError(f"line {line} holds {len(values)} numbers, not {VALUES_PER_FRAME}")
        tokens += values
    try:
        return np.array(tokens, dtype=np.float64).reshape(len(rows), VALUES_PER_FRAME)
    except ValueError:
        line, value = next(((line, v) for line, row in rows for v in row.split() if not is_float(v)),
                           (rows[0][0], b"?"))
        raise PkuError(f"line {line}: {value[:40].decode()!r} is not a number") from None


def is_float(token: bytes) -> bool:
    """Whether float() reads the token (to name the bad one of a chunk numpy refused)."""
    try:
        float(token)
        return True
    except ValueError:
        return False


def chunks(items, size: int):
    """Lists of `size` consecutive items (the last may be shorter)."""
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parse_sequence(data: bytes) -> np.ndarray:
    """[frames, 150] float32 of a skeleton file: numpy.loadtxt's float64 values cast to float32, as MAMP's script
    stores them. Parsed CHUNK_ROWS rows at a time into one preallocated array, so the memory a parse takes beyond
    the file's bytes is the array plus one chunk. Non-finite values are kept: only the instances that hold them
    fail (`cut_instance`)."""
    rows = min(data.count(b"\n") + 1, (len(data) + 1) // MIN_ROW_BYTES)    # an upper bound; pages fill lazily
    out = np.empty((rows, VALUES_PER_FRAME), np.float32)
    n = 0
    for chunk in chunks(skeleton_rows(data), CHUNK_ROWS):
        values = parse_rows(chunk)                                          # [len(chunk), 150] float64
        with np.errstate(over="ignore"):                                    # 1e39 -> inf, as loadtxt + astype
            out[n:n + len(chunk)] = values
        n += len(chunk)
    if n == 0:
        raise PkuError("empty skeleton file")
    out.resize((n, VALUES_PER_FRAME), refcheck=False)                        # shrinks in place, no copy
    return out


def parse_labels(data: bytes) -> list:
    """One entry per non-empty row: (action_id, start, end) or the reason the row is not an instance. Rows end at
    \\n (or \\r\\n) only; each of the 3 or 4 fields is an integer in ASCII digits (no sign, point, exponent, \\_)."""
    rows = []
    for line in text_lines(data):
        if not line.strip():
            continue
        parts, shown = line.split(","), repr(line.strip()[:40])
        if len(parts) not in (3, 4):
            rows.append(f"row {shown} has {len(parts)} fields, not action,start,end[,confidence]")
        elif not all(LABEL_FIELD.fullmatch(p) for p in parts):
            rows.append(f"row {shown}: class, start, end and confidence must be integers in ASCII digits "
                        f"(0-9, at most 9)")
        else:
            rows.append(tuple(int(p) for p in parts[:3]))
    return rows


def overlap_problem(spans: list) -> str | None:
    """Why the instances [(start, end)] of one sequence hold too many frames, else None: for every end frame f,
    the instances [start, end) ending by f may hold at most MAX_COVER x f frames (rows with start >= end fail anyway
    and count nothing). Read from the label file alone: an instance past the sequence's last frame fails without
    writing, so the frames prepared from one sequence stay under MAX_COVER x its frame count (plus one frame per
    instance under AimCLR's clip)."""
    total = 0
    for start, end in sorted(((s, e) for s, e in spans if s < e), key=lambda span: span[1]):
        total += end - start
        if total > MAX_COVER * end:
            return (f"instances ending by frame {end} hold {total} frames, over {MAX_COVER} x {end}: "
                    f"the label rows overlap (at most {MAX_COVER} instances per frame on average)")
    return None


def read_split(path: Path) -> frozenset:
    """The training sequence names of a split file: its line 2, comma-separated (MAMP: `lines[1].split(', ')`)."""
    text = read_regular(path, SPLIT_MAX_BYTES, f"larger than {SPLIT_MAX_BYTES >> 20} MB: not a PKU-MMD split file")
    lines = text_lines(text)
    if len(lines) < 2:
        raise ValueError(f"{path}: no line 2 (the training sequences)")
    return frozenset(n.strip() for n in lines[1].split(",") if n.strip())


def instance_frames(start: int, end: int, clip: str) -> tuple[int, int]:
    """The [first, stop) rows of an instance: MAMP's seq[start:end], AimCLR's seq[start-1:end]."""
    return (start if clip == "start:end" else start - 1), end


def cut_instance(sequence: np.ndarray, start: int, end: int, clip: str) -> np.ndarray:
    """[L, 2, 25, 3] float32 of one instance; PkuError for rows outside the sequence, a non-finite value (naming its
    0-based frame, as the label rows count) or an all-zero instance."""
    first, stop = instance_frames(start, end, clip)
    if first < 0 or first >= stop:
        raise PkuError(f"frames {start}-{end}: start must be below end (and at least {1 if clip != 'start:end' else 0})")
    if stop > len(sequence):
        raise PkuError(f"frames {start}-{end} run past the sequence's {len(sequence)} frames")
    x = sequence[first:stop]
    if not np.isfinite(x).all():                  # only the instances that hold it fail, not the whole sequence
        frame = first + int(np.flatnonzero(~np.isfinite(x).all(1))[0])
        raise PkuError(f"frame {frame} of the sequence holds a non-finite value (nan, inf, or beyond float32)")
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
    found.benchmarks, found.listed_without_skeleton = tuple(training), {}
    info, sequences = DATASETS[dataset], set()            # the row's parse_name reads the sequence names
    for path in walk(raw / "skeleton", ".txt", found.failed):
        found.files_seen += 1
        rel, name = str(path.relative_to(raw)), path.stem
        fields = info.parse_name(name)
        if fields is None:
            found.failed.append({"file": rel, "reason": f"bad file name, expected {info.name_pattern}.txt"})
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
        tasks = []
        for row, entry in enumerate(parse_labels(data)):
            where = f"label/{name}.txt row {row + 1}"
            if isinstance(entry, str):
                found.failed.append({"file": where, "reason": entry})
                continue
            action, start, end = entry
            if not 1 <= action <= num_classes:
                found.failed.append({"file": where, "reason": f"class {action} out of range 1-{num_classes}"})
                continue
            tasks.append(Task(f"{name}_{row:03d}", path, {**fields, "row": row, "start": start, "end": end},
                              action - 1, splits=splits))
        if problem := overlap_problem([(t.fields["start"], t.fields["end"]) for t in tasks]):
            found.failed.append({"file": f"label/{name}.txt", "reason": problem})      # the whole sequence
            continue
        found.tasks += tasks
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
