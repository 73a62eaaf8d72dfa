"""Mixed precision (docs/training.md, "bf16"): fp32, or bf16 autocast with the MPDP loss in fp32 and

    bf16                everything else autocast (torch's op lists)
    bf16-fp32-input     the two input embeddings (Linear 3 -> D) in fp32: bf16 rounds the coordinates to
                        ~2 mm, the size of the displacements MPDP predicts (the model's `fp32_input`)
"""
import torch

from gltr.configs import PRECISIONS

FP32_INPUT = {"fp32": False, "bf16": False, "bf16-fp32-input": True}     # precision -> model.fp32_input


def apply(model, precision: str):
    """Set the model's fp32 parts for `precision` (a resolved one: not "auto"); returns the model."""
    model.fp32_input = FP32_INPUT[precision]
    return model


def autocast(precision: str, device):
    """The forward's context: bf16 autocast for a bf16 policy, none for fp32 (a resolved precision, not "auto")."""
    if precision not in FP32_INPUT:
        raise ValueError(f"precision must be one of {', '.join(FP32_INPUT)} here, not {precision!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision != "fp32")


def autocast_forward(model, motion, mask, precision: str, device):
    """The model's forward in `precision`, its own setting restored afterwards (benchmarks compare policies)."""
    was = model.fp32_input
    try:
        with autocast(precision, device):
            return apply(model, precision)(motion, mask)
    finally:
        model.fp32_input = was


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
    if requested.startswith("bf16") and device_type == "cpu" and not cpu_bf16_flag(cpuinfo):
        return requested, "asked for; this CPU has no native bf16 (avx512_bf16 / AMX): emulated, slower than fp32"
    if requested != "auto":
        return requested, "asked for"
    if device_type in AT_PARITY:
        return AT_PARITY[device_type], f"auto: at parity with fp32 on {device_type} (docs/training.md)"
    return "fp32", f"auto: no bf16 policy shown at parity with fp32 on {device_type} yet (docs/training.md)"
