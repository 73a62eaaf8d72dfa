"""`gltr verify DIR`: re-hash every output file against the sha256 list in prepare.json."""
import json
from pathlib import Path

from gltr.pipeline.store import sha256_file


def verify(root: Path) -> list[str]:
    """Problems found (empty list = intact): missing, changed or unlisted files."""
    root = Path(root)
    report_path = root / "prepare.json"
    if not report_path.exists():
        return [f"{report_path}: missing (an incomplete or foreign folder)"]
    listed = json.loads(report_path.read_text())["files"]
    problems = []
    for rel, sha in listed.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != sha:
            problems.append(f"{rel}: sha256 differs from prepare.json (corrupted or modified)")
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_file() and rel != "prepare.json" and rel not in listed:
            problems.append(f"{rel}: not listed in prepare.json")
    return problems
