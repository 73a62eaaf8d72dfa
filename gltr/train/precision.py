"""Mixed precision: bf16 autocast with the parts that cannot take bf16 kept in fp32 (docs/training.md, "bf16").

A policy names the model parts that run in fp32 inside an otherwise bf16-autocast forward:

    bf16                    everything autocast (torch's op lists): what `--precision bf16` was before 2026-12-04
    bf16-fp32-input         the two input embeddings (Linear 3 -> D) in fp32
    bf16-fp32-input-heads   those, and the MPDP heads' logits

The MPDP loss is always fp32. `keep_fp32` wraps each part's forward once, on the model instance: the
weights, their names and the state dict stay as they are.
"""
import functools

import torch

PARTS = {"input": ("embed_joint", "embed_trajectory"), "heads": ("head_direction", "head_magnitude")}
POLICIES = {"bf16": (), "bf16-fp32-input": ("input",), "bf16-fp32-input-heads": ("input", "heads")}


def _fp32_call(forward, *args):
    x = args[0]
    with torch.autocast(x.device.type, enabled=False):
        return forward(*(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args))


def keep_fp32(model: torch.nn.Module, policy: str) -> torch.nn.Module:
    """Make the parts `policy` names run in fp32 under autocast (in place; returns the model)."""
    for part in POLICIES[policy]:
        for name in PARTS[part]:
            for module in getattr(model, name).modules():
                if isinstance(module, torch.nn.Linear):
                    module.forward = functools.partial(_fp32_call, module.forward)
    return model


def autocast_forward(model, motion, mask, policy: str, device):
    """The model's forward under bf16 autocast with `policy`'s parts in fp32 (a fresh wrap each call: tests)."""
    wrapped = {m: m.forward for m in model.modules()}
    keep_fp32(model, policy)
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return model(motion, mask)
    finally:
        for m, forward in wrapped.items():
            if "forward" in m.__dict__ and m.__dict__["forward"] is not forward:
                del m.forward


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


PRECISIONS = ("auto", "fp32", *POLICIES)
# Where a bf16 policy was shown at parity with fp32 (docs/training.md, "bf16"): device type -> policy.
# cuda: on an H200 (2026-12-04, small() on NW-UCLA's validation list, 2 seeds, at epoch 100) bf16-fp32-input
# probed 75.9 / 78.0 against fp32's 78.5 / 74.9 (kNN 71.2 / 67.5 against 71.2 / 68.6), within fp32's own seed
# spread, and nwucla() 76.4 against 75.4; it trains ntu() 3.8x faster than fp32 there.
# cpu: none. Plain bf16 failed there (small(), epoch 30: 66.0 / 49.2 against 73.3 / 67.0); no policy re-tested.
AT_PARITY = {"cuda": "bf16-fp32-input"}


def auto_precision(requested: str, device_type: str, cpuinfo: str | None = None) -> tuple[str, str]:
    """(precision, why) for --precision: fp32 or a bf16 policy. `auto` picks the policy shown at parity on this
    device type, else fp32. TF32 matmuls stay off (torch's default): they round the inputs to 10 bits, the
    same loss in kind as bf16's that the parity test is about. A bf16 policy on a CPU without native bf16 is
    allowed, and the reason says it is emulated."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if requested in POLICIES and device_type == "cpu" and not cpu_bf16_flag(cpuinfo):
        return requested, "asked for; this CPU has no native bf16 (avx512_bf16 / AMX): emulated, slower than fp32"
    if requested != "auto":
        return requested, "asked for"
    if device_type in AT_PARITY:
        return AT_PARITY[device_type], f"auto: at parity with fp32 on {device_type} (docs/training.md)"
    return "fp32", f"auto: no bf16 policy shown at parity with fp32 on {device_type} yet (docs/training.md)"


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
