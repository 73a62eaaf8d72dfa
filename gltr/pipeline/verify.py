"""`gltr verify DIR`: re-hash every output file against the sha256 list in prepare.json."""
from pathlib import Path

from gltr import records
from gltr.pipeline.store import sha256_file


def verify(root: Path) -> list[str]:
    """Problems found, each as '<path relative to root>: what' (empty list = intact): a missing or
    unreadable prepare.json, missing, changed or unlisted files, folders that hold no listed file."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder (a prepared dataset is one)")
    report = root / "prepare.json"
    if not report.exists():
        return ["prepare.json: missing (an incomplete or foreign folder)"]
    if not report.is_file():
        return ["prepare.json: not a file (a gltr report is one)"]
    try:
        listed = records.read(report, records.PrepareReport).files        # bounded, regular file, checked names
    except (OSError, ValueError) as e:
        return [f"prepare.json: not a gltr report ({str(e).removeprefix(str(report) + ': ')})"]
    problems = []
    for rel, sha in listed.items():
        path = root / rel                                                # records.RelPath: never leaves the folder
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != sha:
            problems.append(f"{rel}: sha256 differs from prepare.json (corrupted or modified)")
    holding = {str(parent) for rel in listed for parent in Path(rel).parents}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        parts = path.relative_to(root).parts
        if parts[0] == "manifests" and (len(parts) == 1 or parts[1] in ("semi", "validation")):
            continue                                  # gltr manifests' lists: checked against their own index.json
        if path.is_file() and rel != "prepare.json" and rel not in listed:
            problems.append(f"{rel}: not listed in prepare.json")
        elif path.is_dir() and rel not in holding:
            problems.append(f"{rel}/: a folder prepare did not write")
    from gltr.pipeline.sample_lists import folder_problems
    for kind in ("semi", "validation"):
        if (root / "manifests" / kind).exists() or (root / "manifests" / kind).is_symlink():
            problems += [f"manifests/{kind}/{p}" for p in folder_problems(root / "manifests" / kind, kind)]
    return problems
