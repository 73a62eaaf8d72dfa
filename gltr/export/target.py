"""Where an export may write, and what it may replace: the same rule as `gltr prepare`.

- An export never writes inside the prepared dataset, nor inside (or above) a raw folder: the --raw given and
  the one its prepare.json records, both resolved (an unreadable prepare.json is refused, never skipped).
- One export at a time writes into a folder (a lock, `gltr.safety.hold_lock`).
- `--overwrite` replaces only a file gltr wrote: each export folder keeps `gltr-export.json`, the sha256 of
  every file gltr exported there, and a file whose sha256 is not on that record is never touched.
"""
import contextlib
import json
from pathlib import Path

from gltr import records
from gltr.pipeline.store import sha256_file
from gltr.safety import atomic_file, hold_lock

RECORD = "gltr-export.json"


def prepare_report(data) -> dict:
    """The dataset's prepare.json, read through the one contract (gltr.records: bounded, a regular file only,
    validated), or a one-line error naming it and why. Every export reads it here and only here."""
    path = Path(data) / "prepare.json"
    if not path.exists():
        raise ValueError(f"{path}: missing (not a dataset `gltr prepare` wrote)")
    report = records.read(path, records.PrepareReport)
    return {**report.model_dump(exclude={"variant"}), "variant": report.variant.to_dict()}


def recorded_raw(data, report: dict) -> Path:
    """The raw folder `report` (the dataset's prepare.json) says prepare read: an absolute path, or ValueError."""
    raw = report.get("raw")
    if not isinstance(raw, str) or not raw or "\0" in raw or not Path(raw).is_absolute():
        raise ValueError(f"{Path(data) / 'prepare.json'}: 'raw' is {raw!r}, not the absolute path of the raw folder "
                         f"prepare read (a damaged or hand-edited report)")
    return Path(raw)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as e:           # a symlink loop
        raise ValueError(f"{path}: cannot resolve it ({e})") from None


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_outside(out: Path, data, raws) -> None:
    """`out` (a file or folder to write) is not inside the prepared dataset `data`, and neither inside nor above
    any of the raw folders `raws` (None ones skipped); every path resolved, whether it exists or not."""
    target = _resolved(Path(out))
    if _within(target, _resolved(Path(data))):
        raise ValueError(f"--out {out} is inside {data}: an export never writes into a prepared dataset; choose "
                         f"another --out")
    for raw in raws:
        if raw is None:
            continue
        folder = _resolved(Path(raw))
        if _within(target, folder) or _within(folder, target):
            where = "is inside" if _within(target, folder) else "holds"
            raise ValueError(f"--out {out} {where} the raw folder {raw}: an export never writes into the raw files; "
                             f"choose another --out")


def read_record(folder: Path) -> dict:
    """{file: sha256} of what gltr exported into `folder`; empty (nothing there is replaceable) when the record
    is missing, unreadable or not gltr's."""
    path = folder / RECORD
    if not path.is_file():
        return {}
    try:
        return records.read(path, records.ExportRecord).files
    except (OSError, ValueError):
        return {}


def check_replaceable(folder: Path, names: list, overwrite: bool) -> None:
    """Refuse (FileExistsError) if any of `names` exists in `folder` and may not be replaced."""
    existing = [n for n in names if (folder / n).exists() or (folder / n).is_symlink()]
    if existing and not overwrite:
        raise FileExistsError(f"{folder} already holds {', '.join(existing)}; pass --overwrite to replace")
    record = read_record(folder)
    for n in existing:
        path = folder / n
        if path.is_symlink() or not path.is_file() or record.get(n) != sha256_file(path):
            raise FileExistsError(f"{path} was not written by gltr export (it is not on {folder / RECORD} with this "
                                  f"content): refusing to replace it; move it away or choose another --out")


def add_to_record(folder: Path, written: dict) -> None:
    """Record {name: sha256} of files just written (merged with the folder's earlier record)."""
    files = {**read_record(folder), **written}
    with atomic_file(folder / RECORD) as tmp:
        tmp.write_text(json.dumps({"written_by": "gltr export", "files": files}, indent=1) + "\n")


@contextlib.contextmanager
def lock(folder: Path):
    """Hold the folder's export lock; a folder this call made is removed again if nothing was exported into it."""
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".gltr-export.lock"
    try:
        with hold_lock(path, "export"):
            yield
    finally:
        if made and [p.name for p in folder.iterdir()] == [path.name]:
            path.unlink()
            folder.rmdir()
