"""`gltr verify DIR`: re-hash every output file against the sha256 list in prepare.json."""
import json
from pathlib import Path

from gltr.pipeline.store import sha256_file


def verify(root: Path) -> list[str]:
    """Problems found, each as '<path relative to root>: what' (empty list = intact): a missing or
    unreadable prepare.json, missing, changed or unlisted files, folders that hold no listed file."""
    root = Path(root)
    try:
        listed = json.loads((root / "prepare.json").read_text())["files"]
        if not isinstance(listed, dict):
            raise TypeError
    except FileNotFoundError:
        return ["prepare.json: missing (an incomplete or foreign folder)"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return ["prepare.json: not a gltr report (unreadable JSON or no 'files' list)"]
    problems = []
    for rel, sha in listed.items():
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
