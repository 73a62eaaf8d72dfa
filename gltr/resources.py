"""The process's CPU policy: how many threads torch computes with, chosen at start-up from the CPUs that
are idle, and re-chosen while training from the CPUs that other processes use.

Measured on a 2-core machine (the demo's pretraining, tiny(), 200 steps; `make bench`'s `threads` entry):
torch's default of one intra-op thread per core slows down ~5x beside two CPU-burning neighbours
(OpenMP threads wait for a partner that the scheduler has put aside), where one thread slows down ~1.8x,
the fair share. Idle, two threads are 1.3x faster than one. Passive OpenMP waiting would also avoid the
collapse, but costs 1.75x on an idle machine (every small op wakes sleeping threads), so it is not used.

    threads = the CPUs this process may use (affinity, cgroup quota), minus those other processes keep
              busy (sampled from /proc/stat over 0.2 s at start; while training, `adjust()` re-measures
              over the time since its last call, this process's own CPU time taken out), at least 1

`--threads N` or GLTR_THREADS=N fixes the count (no re-choosing). `policy()` is what a run records.
"""
import functools
import math
import os
import time

from gltr.configs import THREADS

_POLICY: dict = {}


def affinity() -> set:
    """The CPUs this process may be scheduled on."""
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup v2 CPU quota."""
    cpus = len(affinity())
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def _cpu_times(cpus: set) -> tuple[int, int]:
    """(busy, total) jiffies summed over the given CPUs, from /proc/stat."""
    busy = total = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
                continue
            values = [int(v) for v in fields[:8]]            # user nice system idle iowait irq softirq steal
            total += sum(values)
            busy += sum(values) - values[3] - values[4]
    return busy, total


def busy_cpus(seconds: float = 0.2) -> float:
    """How many of this process's CPUs other work keeps busy now (0 where /proc/stat is not readable)."""
    cpus = affinity()
    try:
        b0, t0 = _cpu_times(cpus)
        time.sleep(seconds)
        b1, t1 = _cpu_times(cpus)
    except (OSError, ValueError):
        return 0.0
    return len(cpus) * (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def choose_threads(usable: int, busy: float) -> int:
    """One thread per CPU that is free now: neighbours' busy CPUs are not ours to spin on."""
    return max(1, min(usable, round(usable - busy)))


def apply(threads: int | None = None) -> dict:
    """Set the policy for this process (call once, before torch does work); returns what was set.
    `threads` (or GLTR_THREADS) fixes the count; otherwise it is chosen from the idle CPUs."""
    usable = usable_cpus()
    env = os.environ.get("GLTR_THREADS")
    if threads is None and env:
        try:
            threads = int(env)
        except ValueError:
            raise ValueError(f"GLTR_THREADS must be a whole number of threads, not {env!r}") from None
    if threads is not None:
        THREADS.check("--threads", threads)
    busy = None
    if threads is None:
        busy = busy_cpus()
        threads, source = choose_threads(usable, busy), "idle CPUs"
    else:
        source = "given (--threads or GLTR_THREADS)"
    import torch
    torch.set_num_threads(threads)
    _POLICY.clear()
    _POLICY.update({"threads": threads, "usable_cpus": usable, "busy_cpus_at_start": None if busy is None else round(busy, 2),
                    "source": source, "changes": 0})
    _LAST.clear()
    return dict(_POLICY)


_LAST: dict = {}
MIN_WINDOW_S = 2.0           # adjust() measures over at least this long


def adjust() -> int:
    """Re-choose the thread count from the CPUs other processes used since the last call (this process's
    own CPU time taken out; its loader workers count as others); only when `apply` chose it. Cheap: one
    read of /proc/stat. Returns the thread count in force."""
    import torch
    if _POLICY.get("source") != "idle CPUs":
        return torch.get_num_threads()
    cpus = affinity()
    try:
        busy, total = _cpu_times(cpus)
    except (OSError, ValueError):
        return torch.get_num_threads()
    own, now = sum(os.times()[:2]), time.monotonic()
    if _LAST and now - _LAST["at"] >= MIN_WINDOW_S and total > _LAST["total"]:
        tick = os.sysconf("SC_CLK_TCK")
        others = len(cpus) * max(0.0, (busy - _LAST["busy"]) - (own - _LAST["own"]) * tick) / (total - _LAST["total"])
        threads = choose_threads(_POLICY["usable_cpus"], others)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
            _POLICY["changes"] += 1
        _POLICY["threads"] = threads
    if not _LAST or now - _LAST["at"] >= MIN_WINDOW_S:
        _LAST.update(busy=busy, total=total, own=own, at=now)
    return torch.get_num_threads()


def policy() -> dict:
    """The policy set by `apply`, or torch's own thread count where nothing was applied (a library call)."""
    if _POLICY:
        return dict(_POLICY)
    import torch
    return {"threads": torch.get_num_threads(), "usable_cpus": usable_cpus(), "busy_cpus_at_start": None,
            "source": "torch default", "changes": 0}


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident memory of a process in MB (Linux /proc), or None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read(200).split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return None


@functools.cache
def _malloc_trim():
    import ctypes
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_memory() -> bool:
    """Give the heap's free memory back to the system (glibc's malloc_trim); called at every epoch's end of
    pretraining and fine-tuning. Batches of ever-changing lengths leave freed blocks of many sizes in glibc's
    arenas, which RSS keeps counting (docs/benchmarks.md, "Memory over long runs"). Returns whether it ran."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    return trim is not None
