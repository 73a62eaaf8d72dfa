"""Reading a prepared dataset's files from a folder, an http(s):// prefix or a pipe: command, bounded.

    locate(data, "shards", "xsub", "train.json")   where a file of the dataset is (a path, URL or command)
    read(where, limit, timeout)                     its bytes: at most `limit`, or an error naming it

Every read is bounded twice: in size (a file longer than `limit`, e.g. a shard longer than its index
says, is an error) and in time (no byte for READ_TIMEOUT_S seconds from a server or command is an
error). A pipe: prefix is one program and its arguments, run without a shell (no `|`, `;` or `$`
expansion); a name from the data becomes one of its arguments, and only after
`gltr.safety.check_name` accepted it. The command leads its own process group, which is killed whole
when the read ends (its children too, never left running), and only the last 64 kB of its stderr
are kept.
"""
import os
import selectors
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from gltr.safety import read_regular

READ_TIMEOUT_S = 60          # no byte for this long from a server or a pipe: command -> error
CHUNK = 1 << 20


def is_url(data) -> bool:
    return "://" in str(data) or str(data).startswith("pipe:")


def locate(data, *parts: str) -> str:
    """A path under a dataset folder or URL prefix. A pipe: prefix holds "{}" where the (shell-quoted) path
    goes (pipe:aws s3 cp s3://bucket/data/{} -); any other prefix is joined with "/"."""
    rel = "/".join(parts)
    data = str(data)
    if data.startswith("pipe:"):
        if "{}" not in data:
            raise ValueError(f"a pipe: --data needs {{}} where the file path goes: {data!r}")
        return data.replace("{}", shlex.quote(rel))
    return f"{data.rstrip('/')}/{rel}" if is_url(data) else str(Path(data) / rel)


def _too_long_text(limit: int) -> str:
    return f"longer than the {limit:,} bytes expected (a shard longer than its index says, or not the file it should be)"


def _too_long(where: str, limit: int) -> ValueError:
    return ValueError(f"{where}: {_too_long_text(limit)}")


def _local(path: str, limit: int) -> bytes:
    return read_regular(path, limit, _too_long_text(limit))


def _http(url: str, limit: int, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:        # the timeout bounds every read
            parts, size = [], 0
            while size <= limit:
                chunk = response.read(min(CHUNK, limit + 1 - size))
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
    except urllib.error.HTTPError as e:
        raise FileNotFoundError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise OSError(f"{url}: {'no data for ' + str(timeout) + ' s' if 'timed out' in str(reason) else reason}") from None
    if size > limit:
        raise _too_long(url, limit)
    return b"".join(parts)


STDERR_KEEP = 64 << 10       # the last 64 kB of a pipe: command's stderr are kept, for its error message


def _exited(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` s for the child `pid` to exit, without reaping it: while it is a zombie, its
    process group id cannot be reused, so killing the group afterwards cannot hit a stranger."""
    deadline, delay = time.monotonic() + timeout, 0.0005
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(2 * delay, 0.05)
    return True


def _pipe(command: str, limit: int, timeout: float) -> bytes:
    """The output of one program run with its arguments, never through a shell: `command` is split as a shell
    would split words (so `locate`'s quoting round-trips), but no shell ever sees it. The program leads its
    own process group, and the whole group (its children too) is killed when the read ends, whichever way it
    ends: done, a timeout, output past `limit`, an error or Ctrl-C. Only the last STDERR_KEEP bytes of its
    stderr are kept (for the error message), in memory."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise ValueError(f"pipe:{command}: not a command line ({e})") from None
    if not argv:
        raise ValueError("pipe: needs a command, e.g. pipe:aws s3 cp s3://bucket/data/{} -")
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                start_new_session=True)       # a new session: its own process group
    except OSError as e:
        raise OSError(f"pipe:{command}: cannot run {argv[0]} ({e.strerror or e})") from None
    parts, size, err = [], 0, bytearray()
    deadline = time.monotonic() + timeout               # moved on by each stdout byte (stderr chatter is no data)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            sel.register(proc.stderr, selectors.EVENT_READ)
            while sel.get_map():                               # until stdout and stderr are both closed
                left = deadline - time.monotonic()
                if left <= 0 or not (events := sel.select(left)):
                    raise OSError(f"pipe:{command}: no data for {timeout} s" if proc.stdout in sel.get_map() else
                                  f"pipe:{command}: closed its output but did not exit for {timeout} s")
                for key, _ in events:
                    chunk = os.read(key.fd, CHUNK)
                    if key.fileobj is proc.stderr:
                        err += chunk
                        del err[:-STDERR_KEEP]
                    elif chunk:
                        parts.append(chunk)
                        size += len(chunk)
                        if size > limit:
                            raise _too_long(f"pipe:{command}", limit)
                    if key.fileobj is proc.stdout:             # a byte, or the end: `timeout` s more to go on or end
                        deadline = time.monotonic() + timeout
                    if not chunk:
                        sel.unregister(key.fileobj)
        if not _exited(proc.pid, deadline - time.monotonic()):
            raise OSError(f"pipe:{command}: closed its output but did not exit for {timeout} s")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)                # the group, before its leader is reaped
        except (ProcessLookupError, PermissionError):         # gone already
            pass
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    if proc.returncode != 0:
        last = bytes(err[-300:]).decode(errors="replace").strip().splitlines()
        raise OSError(f"pipe:{command}: exited with status {proc.returncode}" + (f" ({last[-1]})" if last else ""))
    return b"".join(parts)


def read(where: str, limit: int, timeout: float | None = None) -> bytes:
    """The bytes of a local file, an http(s) URL or a pipe: command's output; at most `limit` of them."""
    timeout = READ_TIMEOUT_S if timeout is None else timeout
    if where.startswith("pipe:"):
        return _pipe(where[len("pipe:"):], limit, timeout)
    if where.startswith(("http://", "https://")):
        return _http(where, limit, timeout)
    if "://" in where:
        raise ValueError(f"{where}: only local folders, http(s):// and pipe: are supported")
    return _local(where, limit)
