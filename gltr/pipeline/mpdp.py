"""MPDP labels: multi-interval pose displacement classes (docs/training.md, "Pretraining").

One torch function, used twice: by `prepare` on each un-augmented sequence (stored in the
dataset), and by the trainer on a whole augmented batch on its own device.
"""
import torch

from gltr.datasets import INTERVALS
NUM_DIRECTIONS = 27
NUM_MAGNITUDES = 16
ABSENT = 15          # magnitude class of every token of an absent second person
MAG_STEP = 0.01      # metres per magnitude class
MAG_MAX = 14         # largest magnitude class for a present token


def mpdp_labels(x: torch.Tensor, intervals=INTERVALS) -> tuple[torch.Tensor, torch.Tensor]:
    """x: [..., T, P, K, 3] motion -> (direction, magnitude), each uint8 [..., T, I, P, K].

    d_n(t) = X(t - n) - X(t), with X(t - n) := X(0) for t < n.
    direction = s_x + 3 s_y + 9 s_z, s = 0 (d < 0), 1 (d == 0), 2 (d > 0)      -> 27 classes
    magnitude = 0 if |d| == 0 else min(floor(|d| / 0.01) + 1, 14); 15 if absent -> 16 classes
    Labels of padded frames are computed but meaningless; the loss masks them.
    Computed in float64 from the (float32) motion, as the reference does: the classes of exactly-zero
    displacements and of magnitudes near a bin edge depend on it.
    """
    x = x.double()
    *lead, T, P, K, C = x.shape
    d = x.new_empty(*lead, T, len(intervals), P, K, 3)                        # [..., T, I, P, K, 3]
    for i, n in enumerate(intervals):
        n = min(n, T)
        d[..., n:, i, :, :, :] = x[..., :T - n, :, :, :] - x[..., n:, :, :, :]   # X(t - n) - X(t)
        d[..., :n, i, :, :, :] = x[..., :1, :, :, :] - x[..., :n, :, :, :]       # X(0) - X(t) for t < n
    weights = torch.tensor([1.0, 3.0, 9.0], dtype=x.dtype, device=x.device)
    direction = (torch.sign(d) @ weights + 13).to(torch.uint8)                   # sum (sign + 1) * 3^axis
    m = (d * d).sum(-1).sqrt_()                                                   # [..., T, I, P, K]
    magnitude = torch.floor_(m / MAG_STEP).add_(1).clamp_(max=MAG_MAX).mul_(m > 0).to(torch.uint8)
    if P > 1:
        absent = x[..., :1, 1, :, :].sum((-1, -2, -3)) == 0                     # [...] person 1 sums to 0 at frame 0
        magnitude[..., 1, :] = torch.where(absent[..., None, None, None], ABSENT, magnitude[..., 1, :])
    return direction, magnitude
