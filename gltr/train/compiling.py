"""`--compile`: whether torch.compile is on by default (docs/training.md, "torch.compile on a CPU")."""
import shutil

# torch.compile on this project's 2-core CPU (`make bench ONLY=compile`, 2026-12-02, bf16 autocast, NW-UCLA layout,
# batch 64): nwucla() 1.15x faster per step after 193 s of compiling, paid back after ~21 minutes of a run; small()
# 1.02x after 433 s, not paid back within 60 minutes. Not measured in fp32 on a CPU, nor on GPUs (`make
# gpu-evidence` measures that): off by default there.
COMPILE_PAYS_ON_CPU = {("nwucla", "bf16")}


def auto_compile(requested: bool | None, device_type: str, preset: str, precision: str) -> tuple[bool, str]:
    """(compile, why) for --compile/--no-compile; unset, on for a CPU run of a preset and precision measured to pay
    back within an hour, where a C++ compiler is there for torch's inductor."""
    if requested is not None:
        return requested, "asked for"
    if device_type != "cpu" or (preset, precision) not in COMPILE_PAYS_ON_CPU:
        return False, f"auto: not measured to pay back within an hour for {preset} in {precision} on {device_type}"
    if not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        return False, "auto: no C++ compiler for torch's inductor"
    return True, f"auto: pays back within an hour for {preset} in {precision} on this CPU (make bench ONLY=compile)"
