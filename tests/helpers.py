"""Helpers the test files share: running the CLI as a user does, and its one-line error contract."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

GLTR = [sys.executable, "-m", "gltr.cli.main"]


def gltr(*args, timeout=300, **kw):
    return subprocess.run(GLTR + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kw)


def one_error_line(result, code=None):
    """The CLI's contract for an error: exit status, one line `error: …` on stderr, never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), result.stderr[-2000:]
    if code is not None:
        assert result.returncode == code, (result.returncode, result.stderr)
    return lines[-1]


def copy_of(prepared: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(prepared, copy)
    return copy


def edit_index(data: Path, benchmark: str, split: str, change) -> None:
    path = data / "shards" / benchmark / f"{split}.json"
    index = json.loads(path.read_text())
    change(index)
    path.write_text(json.dumps(index))
