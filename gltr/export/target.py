"""Where an export may write, and what it may replace: the same rule as `gltr prepare`.

- An export never writes inside the prepared dataset or the raw folder it came from.
- One export at a time writes into a folder (a lock, `gltr.safety.hold_lock`).
- `--overwrite` replaces only a file gltr wrote: each export folder keeps `gltr-export.json`, the sha256 of
  every file gltr exported there, and a file whose sha256 is not on that record is never touched.
"""
import contextlib
import json
from pathlib import Path

from gltr.pipeline.store import sha256_file
from gltr.safety import atomic_file, hold_lock

RECORD = "gltr-export.json"


def check_outside(out: Path, *folders) -> None:
    """`out` (a file or folder to write) lies outside every one of `folders` (those that exist)."""
    target = out.resolve()
    for folder in folders:
        if folder is None or not Path(folder).exists():
            continue
        f = Path(folder).resolve()
        if target == f or f in target.parents:
            raise ValueError(f"--out {out} is inside {folder}: an export never writes into a prepared dataset or its "
                             f"raw files; choose another --out")


def read_record(folder: Path) -> dict:
    path = folder / RECORD
    if not path.is_file():
        return {}
    try:
        files = json.loads(path.read_bytes()[:1 << 20]).get("files", {})
    except (ValueError, AttributeError):
        return {}
    return files if isinstance(files, dict) else {}


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
