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
import math
import os
import time

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


BF16_FLAGS = ("amx_bf16", "avx512_bf16")       # /proc/cpuinfo flags of native bf16 arithmetic (AMX, AVX-512 BF16)


def cpu_bf16_flag(cpuinfo: str | None = None) -> str | None:
    """The flag in /proc/cpuinfo that says this CPU computes bf16 natively, or None (none, or not readable)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", "rb") as f:
                cpuinfo = f.read(1 << 20).decode("ascii", "replace")
        except OSError:
            return None
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return next((flag for flag in BF16_FLAGS if flag in flags), None)


def auto_precision(requested: str, device_type: str, cpuinfo: str | None = None) -> tuple[str, str]:
    """(precision, why) for --precision. `auto` is bf16 autocast on a GPU and fp32 on a CPU: bf16 on this
    project's CPU (avx512_bf16) failed its parity test (small(), 2 seeds each, validation linear at epoch 30:
    66.0 / 49.2 against fp32's 73.3 / 67.0, loss higher throughout; docs/training.md): not the default there.
    `--precision bf16` on a CPU without native bf16 is allowed, and the reason says it is emulated."""
    if requested == "bf16" and device_type == "cpu" and not cpu_bf16_flag(cpuinfo):
        return "bf16", "asked for; this CPU has no native bf16 (avx512_bf16 / AMX): emulated, slower than fp32"
    if requested != "auto":
        return requested, "asked for"
    if device_type == "cuda":
        return "bf16", "auto: GPU"
    return "fp32", "auto: CPU (bf16 on a CPU failed its parity test, docs/training.md)"


# torch.compile on this project's 2-core CPU (`make bench --only compile`, 2026-12-02, bf16 autocast, NW-UCLA layout,
# batch 64): nwucla() 1.15x faster per step after 193 s of compiling, paid back after ~21 minutes of a run; small()
# 1.02x after 433 s, not paid back within 60 minutes. Not measured in fp32 on a CPU, nor on GPUs (`make
# gpu-evidence` measures that): off by default there.
COMPILE_PAYS_ON_CPU = {("nwucla", "bf16")}


def auto_compile(requested: bool | None, device_type: str, preset: str, precision: str) -> tuple[bool, str]:
    """(compile, why) for --compile/--no-compile; unset, on for a CPU run of a preset and precision measured to pay
    back within an hour, where a C++ compiler is there for torch's inductor."""
    import shutil
    if requested is not None:
        return requested, "asked for"
    if device_type != "cpu" or (preset, precision) not in COMPILE_PAYS_ON_CPU:
        return False, f"auto: not measured to pay back within an hour for {preset} in {precision} on {device_type}"
    if not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        return False, "auto: no C++ compiler for torch's inductor"
    return True, f"auto: pays back within an hour for {preset} in {precision} on this CPU (make bench --only compile)"
