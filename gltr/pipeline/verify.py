"""`gltr verify DIR`: re-hash every output file against the sha256 list in prepare.json."""
import json
from pathlib import Path

from gltr.pipeline.store import sha256_file

REPORT_MAX_BYTES = 256 << 20


def verify(root: Path) -> list[str]:
    """Problems found, each as '<path relative to root>: what' (empty list = intact): a missing or
    unreadable prepare.json, missing, changed or unlisted files, folders that hold no listed file."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder (a prepared dataset is one)")
    report = root / "prepare.json"
    if report.exists() and not report.is_file():
        return ["prepare.json: not a file (a gltr report is one)"]
    try:
        listed = json.loads(report.read_bytes()[:REPORT_MAX_BYTES])["files"]
        if not isinstance(listed, dict):
            raise TypeError
    except FileNotFoundError:
        return ["prepare.json: missing (an incomplete or foreign folder)"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return ["prepare.json: not a gltr report (unreadable JSON or no 'files' list)"]
    problems = []
    for rel, sha in listed.items():
        if Path(rel).is_absolute() or ".." in Path(rel).parts:           # a listed name never leaves the folder
            problems.append(f"{rel}: not a path inside the dataset (prepare.json was tampered with)")
            continue
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != sha:
            problems.append(f"{rel}: sha256 differs from prepare.json (corrupted or modified)")
    holding = {str(parent) for rel in listed for parent in Path(rel).parents}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_file() and rel != "prepare.json" and rel not in listed:
            problems.append(f"{rel}: not listed in prepare.json")
        elif path.is_dir() and rel not in holding:
            problems.append(f"{rel}/: a folder prepare did not write")
    return problems
