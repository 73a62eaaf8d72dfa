"""Learning-rate schedules shared by pretraining and fine-tuning: a factor on the base lr per step."""
import math


def lr_scale(step: int, total: int, warmup: int, schedule: str) -> float:
    """Linear warm-up over `warmup` steps, then cosine to 0 ("cosine") or flat ("constant")."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"schedule must be 'cosine' or 'constant', not {schedule!r}")
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def pretrain_lr(lr: float, step: int, epoch: int, steps_per_epoch: int, epochs: int, schedule: str,
                lr_decay: float, warmup_epochs: int) -> float:
    """MPDP pretraining's lr at `step` (in `epoch`): "exp" is the authors' lr x lr_decay**epoch;
    "cosine" warms up linearly over `warmup_epochs`, then follows a cosine to 0 at the last step."""
    if schedule == "exp":
        return lr * lr_decay ** epoch
    return lr * lr_scale(step, epochs * steps_per_epoch, warmup_epochs * steps_per_epoch, schedule)
