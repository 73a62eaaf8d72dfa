"""MPDP labels: multi-interval pose displacement classes (REFERENCE section 4).

One torch function, used twice: by `prepare` on each un-augmented sequence (stored in the
dataset), and by the trainer on a whole augmented batch on its own device.
"""
import torch

INTERVALS = (1, 5, 10)
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
    """
    *lead, T, P, K, C = x.shape
    n = torch.as_tensor(list(intervals), device=x.device)
    past_index = (torch.arange(T, device=x.device) - n[:, None]).clamp(min=0)     # [I, T]
    past = x.index_select(-4, past_index.flatten())                               # [..., I*T, P, K, 3]
    past = past.unflatten(-4, (len(intervals), T)).movedim(-5, -4)               # [..., T, I, P, K, 3]
    d = past - x.unsqueeze(-4)                                                    # [..., T, I, P, K, 3]
    s = (d > 0).to(torch.uint8) * 2 + (d == 0).to(torch.uint8)
    direction = s[..., 0] + 3 * s[..., 1] + 9 * s[..., 2]                          # [..., T, I, P, K]
    m = (d * d).sum(-1).sqrt()                                                    # [..., T, I, P, K]
    magnitude = torch.clamp(torch.floor(m / MAG_STEP) + 1, max=MAG_MAX)
    magnitude = torch.where(m == 0, 0, magnitude).to(torch.uint8)
    if P > 1:
        absent = x[..., :1, 1, :, :].sum((-1, -2, -3)) == 0                     # [...] person 1 sums to 0 at frame 0
        magnitude[..., 1, :] = torch.where(absent[..., None, None, None], ABSENT, magnitude[..., 1, :])
    return direction, magnitude
