"""The shared safety mechanisms, one helper each (every command uses them; tests/test_bad_*.py walk the cases):

    shown(s)            a user-supplied string made safe to print: never markup, control characters replaced
    check_name(s, kind) a name read from data (shard, benchmark, split) validated before it becomes a path, URL or command
    hold_lock(path)     an exclusive lock file: no truncation, no symlink followed, names the holder's pid
    atomic_file(path)   write under a temporary name, rename on success, remove the temporary file on any failure
    read_regular(p, n, why)  a regular file of at most n bytes, opened without blocking (a FIFO never hangs a read)
"""
import contextlib
import errno
import fcntl
import os
import re
import stat
from pathlib import Path

NAMES = {                                          # ASCII only: no look-alike digits, no separators, no globs
    "shard": re.compile(r"[A-Za-z0-9_-]{1,100}\.tar", re.ASCII),
    "benchmark": re.compile(r"[A-Za-z0-9_-]{1,50}", re.ASCII),
    "split": re.compile(r"train|test", re.ASCII),
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")      # all but tab and newline (tables are multi-line)


def shown(value, style: str | None = None):
    """`value` as a rich Text that prints as itself: never parsed as markup, control characters (ESC, CR, …;
    not tab and newline) written as \\xNN. Every user-supplied string (path, name, id, message) reaches the
    terminal through it."""
    from rich.text import Text
    return Text(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value)), style=style or "")


def check_name(name, kind: str, where: str = "") -> str:
    """`name` if it is a valid `kind` name (see NAMES), else a ValueError naming it and where it came from."""
    if not isinstance(name, str) or not NAMES[kind].fullmatch(name):
        raise ValueError(f"{where + ': ' if where else ''}{name!r} is not a valid {kind} name "
                         f"(expected {NAMES[kind].pattern})")
    return name


LOCK_TEXT = re.compile(rb"(gltr lock pid \d+ [^\n]*\n)?", re.ASCII)


class Lock:
    """An exclusive lock held on an open file; `release()` (or the end of the process) frees it."""

    def __init__(self, fd: int, path: Path):
        self.fd, self.path = fd, path

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    __del__ = release

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def hold_lock(path: Path, what: str) -> Lock:
    """Lock `path` for this process. The file is opened without truncation and without following a symlink;
    a path that is a symlink, a folder or a file gltr did not write is refused; a lock held elsewhere
    stops at once, naming the holder's pid."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        raise FileExistsError(f"{path}: the lock file is a symbolic link; refusing to use it (remove it if it is yours)")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EISDIR):
            raise FileExistsError(f"{path}: the lock path is a symbolic link or a folder; refusing to use it") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size > 200:
        os.close(fd)
        raise FileExistsError(f"{path}: not a gltr lock file (a special or hard-linked file, or too large); "
                              f"refusing to use it")
    content = os.pread(fd, 200, 0)
    if not LOCK_TEXT.fullmatch(content):
        os.close(fd)
        raise FileExistsError(f"{path}: not a gltr lock file (it holds other text); refusing to touch it")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = re.search(rb"pid (\d+)", os.pread(fd, 200, 0))
        os.close(fd)
        raise FileExistsError(f"another gltr {what} (pid {holder.group(1).decode() if holder else 'unknown'}) "
                              f"holds {path} right now; wait for it to finish") from None
    os.ftruncate(fd, 0)                            # ours now, and verified to be a lock file
    os.pwrite(fd, f"gltr lock pid {os.getpid()} {what}\n".encode(), 0)
    return Lock(fd, path)


@contextlib.contextmanager
def atomic_file(path: Path, suffix: str = ""):
    """Yield a temporary path beside `path` (ending in `suffix`, for writers that choose a format by it); on success
    it is renamed to `path`, on any failure removed; an OSError about the temporary names `path`. A missing folder
    is refused first (FileNotFoundError naming `path`): nothing is made."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: no such folder {path.parent}")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        if e.filename not in (str(tmp), tmp):
            raise
        raise type(e)(e.errno, e.strerror, str(path)) from None     # named as the user gave it, not the temporary
    finally:
        tmp.unlink(missing_ok=True)


def read_regular(path, limit: int, too_long: str) -> bytes:
    """The bytes of `path`, at most `limit`: a longer file is ValueError "<path>: <too_long>" (the caller says what
    a longer file means), read no further than limit + 1 bytes. Opened with O_NONBLOCK and checked to be a regular
    file on the opened descriptor, so a FIFO or device, even one swapped in after a check, never blocks;
    ValueError names it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path}: not a regular file (FIFO, socket or device)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"{path}: {too_long}")
    return data
