"""One process, or many under torchrun (RANK / WORLD_SIZE / LOCAL_RANK in the environment)."""
import os

import torch
import torch.distributed as dist


def init_distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device). NCCL on GPUs, gloo on CPUs; CUDA whenever present."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    local = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def finish_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_mean(values: list[float], device) -> list[float]:
    """Means of scalars over ranks (the scalars themselves on one process)."""
    if not dist.is_initialized():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / dist.get_world_size()).tolist()


def any_rank(flag: bool, device) -> bool:
    """True on every rank if it is True on any (so that all ranks stop at the same step)."""
    if not dist.is_initialized():
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
