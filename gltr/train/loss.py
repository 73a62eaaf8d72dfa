"""MPDP loss over the valid frames of a padded batch, reduced as the authors' `learn_PTmodel.py` does
(docs/training.md, "The MPDP loss").

The authors lay the intervals' token columns side by side and take, per head, two cross-entropy means
over all valid frames: one over interval 1's trajectory tokens (weight 0.05) and one over every other
(interval, token) pair pooled together (weight 1). Intervals 5 and 10's trajectory tokens therefore sit
in the pooled mean with weight 1 (the original's quirk); `trajectory_weight_all` gives every interval's
trajectory tokens the 0.05 weight instead.

Before 2026-12-04 gltr took one pair of means per interval and summed them (~3x larger, the trajectory
weighing 48/148 as much). It was removed for faithfulness: on NW-UCLA's validation list it probed better
on one seed and worse on the other, by less than the seeds' spread (docs/results.md, "The faithful loss").
"""
import torch
import torch.nn.functional as F

TRAJECTORY_WEIGHT = 0.05


def token_weights(intervals: int, tokens: int, trajectory_tokens: list, trajectory_weight_all: bool,
                  device=None) -> torch.Tensor:
    """[I, N] bool: the (interval, token) pairs in the 0.05-weighted trajectory mean."""
    weighted = torch.zeros(intervals, tokens, dtype=torch.bool, device=device)
    weighted[slice(None) if trajectory_weight_all else slice(0, 1), trajectory_tokens] = True
    return weighted


def mpdp_loss(direction_logits, magnitude_logits, direction, magnitude, frame_mask, trajectory_tokens: list,
              trajectory_weight_all: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [B, T, I, N, 27|16], labels [B, T, I, N] (uint8), frame_mask [B, T] ->
    (scalar loss, its terms [I, 2]: each interval's share of the direction and magnitude parts, detached).

    Per head: loss = 0.05 * mean CE(trajectory pairs) + mean CE(all other pairs), both means over valid
    frames (absent-person tokens included). A term is an interval's pairs' contribution to these two
    means, so the terms sum to the loss.
    """
    B, T, I, N, _ = direction_logits.shape
    valid = frame_mask.reshape(B * T)
    weighted = token_weights(I, N, trajectory_tokens, trajectory_weight_all, direction_logits.device)
    frames = int(valid.sum())
    # each (interval, token) pair's weight in the loss, per valid frame: 0.05 / |trajectory| or 1 / |others|
    per_pair = torch.where(weighted, TRAJECTORY_WEIGHT / (frames * weighted.sum()),
                           1.0 / (frames * (~weighted).sum()))                     # [I, N]
    terms = []
    for logits, labels in ((direction_logits, direction), (magnitude_logits, magnitude)):
        lg = logits.reshape(B * T, I * N, -1)[valid].float()                        # [V, I*N, classes]
        lb = labels.reshape(B * T, I * N)[valid].long()                             # [V, I*N]
        ce = F.cross_entropy(lg.transpose(1, 2), lb, reduction="none")             # [V, I*N]
        terms.append((ce.sum(0).view(I, N) * per_pair).sum(1))                      # [I]
    terms = torch.stack(terms, 1)                                                   # [I, 2]
    return terms.sum(), terms.detach()
