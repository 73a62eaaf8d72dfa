"""Find the raw files of a dataset under a folder (recursively) and sort them into work and skips: one sample
per file, named, checked, labelled and split by the functions of the dataset's row (gltr.datasets)."""
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from gltr.datasets import dataset_info
from gltr.pipeline.names import missing_list


@dataclass
class Task:
    sample_id: str
    path: Path
    fields: dict
    label: int
    copies: list = field(default_factory=list)        # other files of the same sample, tried if `path` is damaged
    splits: dict | None = None                          # {benchmark: "train" | "test"} from split files (PKU-MMD)


@dataclass
class Found:
    tasks: list = field(default_factory=list)          # to prepare, sorted by sample_id
    failed: list = field(default_factory=list)         # {"file", "reason"}: bad names
    missing: list = field(default_factory=list)        # sample ids on the official missing lists
    duplicates: list = field(default_factory=list)     # {"file", "duplicate_of"}
    out_of_scope: int = 0                               # NTU-120 files when preparing NTU-60
    files_seen: int = 0
    benchmarks: tuple | None = None                     # those with a split (PKU-MMD: a split file); None: all
    listed_without_skeleton: dict | None = None         # {benchmark: names in a split file, no file} (PKU-MMD);
                                                        # None: no split files (the report has no such counts)


def walk(raw: Path, suffix: str, skipped: list):
    """Every regular file under raw ending in suffix, in a deterministic order. Symbolic links are
    followed, but a folder already visited (same device and inode: a link loop, or two links to one
    place) is walked once; other entries named like a sample (FIFOs, sockets, devices, broken links)
    are appended to `skipped` as {"file", "reason"} and never opened."""
    seen = set()
    for root, dirs, files in os.walk(raw, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(suffix):
                continue
            path = Path(root) / name
            rel = str(path.relative_to(raw))
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:                  # a non-UTF-8 name cannot go into the manifest or a report
                skipped.append({"file": rel.encode("utf-8", "backslashreplace").decode(),
                                "reason": "its path is not valid UTF-8: rename it to prepare it"})
                continue
            try:
                regular = stat.S_ISREG(os.stat(path).st_mode)
            except OSError as e:
                skipped.append({"file": rel, "reason": f"cannot be read: {e.strerror}"})
                continue
            if regular:
                yield path
            else:
                skipped.append({"file": rel, "reason": "not a regular file (FIFO, socket or device)"})


def discover(dataset: str, raw: Path) -> Found:
    """One task per raw file ending in the row's `raw_suffix` whose name its `parse_name` reads and its
    `name_problem` accepts; files out of its `in_scope` are counted, names on its missing list skipped, later
    copies of a name kept as fallbacks; each task labelled by its `label_of`."""
    found = Found()
    if not raw.is_dir():
        raise FileNotFoundError(f"raw folder {raw} does not exist")
    info = dataset_info(dataset)
    suffix = info.raw_suffix
    missing = missing_list(dataset)
    first_path, task_of = {}, {}
    for path in walk(raw, suffix, found.failed):
        found.files_seen += 1
        rel = str(path.relative_to(raw))
        sample_id = path.name[: -len(suffix)]
        fields = info.parse_name(sample_id)
        if fields is None:
            found.failed.append({"file": rel, "reason": f"bad file name, expected {info.name_pattern}{suffix}"})
            continue
        if problem := info.name_problem(fields):
            found.failed.append({"file": rel, "reason": problem})
            continue
        if not info.in_scope(fields):
            found.out_of_scope += 1
            continue
        if sample_id in first_path:
            found.duplicates.append({"file": rel, "duplicate_of": first_path[sample_id]})
            if sample_id in task_of:
                task_of[sample_id].copies.append(path)
            continue
        first_path[sample_id] = rel
        if sample_id in missing:
            found.missing.append(sample_id)
            continue
        task_of[sample_id] = Task(sample_id, path, fields, info.label_of(fields))
        found.tasks.append(task_of[sample_id])
    found.tasks.sort(key=lambda t: t.sample_id)
    found.missing.sort()
    return found
