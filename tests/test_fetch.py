"""pipe: commands (gltr/fetch.py): their whole process group is killed whenever a read ends, a timeout is
one OSError line, and their stderr is kept bounded (the last 64 kB, in memory, never on disk)."""
import os
import sys
import time
import tracemalloc

import pytest

from gltr import fetch


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("script, error, says", [
    # closes stdout and stderr, then sleeps: the wait after EOF times out (was an uncaught TimeoutExpired)
    ("sleep 100 >/dev/null 2>&1 & echo $! > {pid}; exec >&- 2>&-; sleep 100", OSError, "did not exit for 0.5 s"),
    # its child holds stdout open and sends nothing: the read times out
    ("sleep 100 & echo $! > {pid}; wait", OSError, "no data for 0.5 s"),
    # its child writes to stderr forever but never to stdout: chatter on stderr is no data
    ("(while :; do echo busy >&2; sleep 0.05; done) & echo $! > {pid}; wait", OSError, "no data for 0.5 s"),
    # closes stdout, keeps stderr open: bounded the same way
    ("sleep 100 >/dev/null & echo $! > {pid}; exec >&-; wait", OSError, "did not exit for 0.5 s"),
    # more output than the limit: the read ends early
    ("sleep 100 >/dev/null 2>&1 & echo $! > {pid}; yes", ValueError, "longer than the 1,000 bytes"),
])
def test_pipe_group_killed_when_read_ends(tmp_path, script, error, says):
    pid_file = tmp_path / "pid"
    command = f"pipe:sh -c '{script.format(pid=pid_file)}'"
    start = time.monotonic()
    with pytest.raises(error) as e:
        fetch.read(command, 1000, timeout=0.5)
    assert time.monotonic() - start < 5
    assert says in str(e.value) and "\n" not in str(e.value) and str(e.value).startswith("pipe:sh -c")
    grandchild = int(pid_file.read_text())
    assert _gone(grandchild), f"the command's child {grandchild} is still running"


def test_pipe_stderr_bounded(tmp_path):
    """400 MB to stderr: neither a file nor memory grows with it; its last line is in the error."""
    code = ("import os, sys\n"
            "block = b'x' * (1 << 20) + b'\\n'\n"
            "for _ in range(400): sys.stderr.buffer.write(block)\n"
            "sys.stderr.buffer.write(b'stderr size %d\\n' % os.fstat(2).st_size)\n"
            "sys.exit(4)\n")
    script = tmp_path / "noisy.py"
    script.write_text(code)
    tracemalloc.start()
    try:
        with pytest.raises(OSError) as e:
            fetch.read(f"pipe:{sys.executable} {script}", 1000, timeout=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(e.value)
    assert "exited with status 4 (stderr size " in message and "\n" not in message
    assert int(message.rsplit(" ", 1)[1].rstrip(")")) < fetch.STDERR_KEEP   # a pipe, not a 400 MB file
    assert peak < 16 << 20, f"{peak:,} bytes allocated for 400 MB of stderr"


def test_pipe_normal(tmp_path):
    (tmp_path / "a b;c").write_bytes(b"data")
    assert fetch.read(fetch.locate(f"pipe:cat {tmp_path}/{{}}", "a b;c"), 100) == b"data"
    assert fetch.read("pipe:sh -c 'echo out; echo err >&2'", 100) == b"out\n"     # stderr is not the output
    with pytest.raises(OSError, match=r"exited with status 3 \(second\)$"):
        fetch.read("pipe:sh -c 'echo first >&2; echo second >&2; exit 3'", 100)
    with pytest.raises(OSError, match="cannot run"):
        fetch.read(f"pipe:{tmp_path}/no-such-program {{}}", 100)
