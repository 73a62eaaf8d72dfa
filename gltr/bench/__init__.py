"""Benchmarks (`make bench`): each writes a JSON of ratios measured within one run."""
import os
from pathlib import Path


def real_default() -> Path:
    """--real's default: $GLTR_REAL_DATA, else ../shared/data beside the project root (where `make` runs). A
    benchmark whose real inputs are absent says so or falls back to synthetic ones."""
    return Path(os.environ.get("GLTR_REAL_DATA", "../shared/data"))


def missing(folder: Path) -> dict | None:
    """{"skipped": why} when a benchmark's real inputs are not there (it then measures nothing), else None."""
    return None if folder.is_dir() else {"skipped": f"no {folder}: give --real (the real data, ../shared/data)"}
