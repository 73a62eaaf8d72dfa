"""The process's CPU policy, set once at start-up: how many threads torch computes with, and how
OpenMP waits.

Measured on a 2-core machine (pretraining tiny(), 60 steps, 2 loader workers, `make bench`'s
`threads` entry): torch's default (one intra-op thread per core, OpenMP threads spinning while they
wait) runs ~3x slower beside two CPU-burning neighbours, because a spinning thread burns the time
slice its partner needs to reach the barrier. One thread per *idle* core and passive waiting keeps
the slow-down near the fair share. So:

    threads = the CPUs this process may use (affinity, cgroup quota), minus those busy right now
              (sampled from /proc/stat over 0.2 s), at least 1
    OMP_WAIT_POLICY = PASSIVE   (unless the user set it)

`--threads N` or GLTR_THREADS=N overrides the count. `policy()` is what a run records in its JSON.
"""
import math
import os
import time

_POLICY: dict = {}


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup v2 CPU quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
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
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
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
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")     # read by OpenMP when torch loads it
    usable = usable_cpus()
    env = os.environ.get("GLTR_THREADS")
    if threads is None and env:
        try:
            threads = int(env)
        except ValueError:
            raise ValueError(f"GLTR_THREADS must be a whole number of threads, not {env!r}") from None
    if threads is not None and threads < 1:
        raise ValueError(f"the thread count must be at least 1, not {threads}")
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
                    "source": source, "omp_wait_policy": os.environ["OMP_WAIT_POLICY"]})
    return dict(_POLICY)


def policy() -> dict:
    """The policy set by `apply`, or torch's own thread count where nothing was applied (a library call)."""
    if _POLICY:
        return dict(_POLICY)
    import torch
    return {"threads": torch.get_num_threads(), "usable_cpus": usable_cpus(), "busy_cpus_at_start": None,
            "source": "torch default", "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
