"""MPDP loss (REFERENCE section 6) over the valid frames of a padded batch."""
import torch
import torch.nn.functional as F

TRAJECTORY_WEIGHT = 0.05


def mpdp_loss(direction_logits, magnitude_logits, direction, magnitude, frame_mask, trajectory_tokens: list,
              trajectory_weight_all: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [B, T, I, N, 27|16], labels [B, T, I, N] (uint8), frame_mask [B, T] ->
    (scalar loss, its terms [I, 2]: per interval, direction and magnitude, detached; they sum to the loss).

    Per interval, over valid frames and all their tokens (absent-person tokens included):
      weighted:   0.05 * CE(trajectory tokens) + CE(joint tokens), for direction and for magnitude
      unweighted: CE over all tokens together
    Faithful default: only interval 1 is weighted (the original code's quirk); with
    `trajectory_weight_all` every interval is.
    """
    B, T, I, N, _ = direction_logits.shape
    valid = frame_mask.reshape(B * T)
    is_traj = torch.zeros(N, dtype=torch.bool, device=direction_logits.device)
    is_traj[trajectory_tokens] = True
    terms = []
    for i in range(I):
        for logits, labels in ((direction_logits, direction), (magnitude_logits, magnitude)):
            lg = logits[:, :, i].reshape(B * T, N, -1)[valid].float()       # [V, N, classes]
            lb = labels[:, :, i].reshape(B * T, N)[valid].long()             # [V, N]
            if i == 0 or trajectory_weight_all:
                terms.append(TRAJECTORY_WEIGHT * F.cross_entropy(lg[:, is_traj].flatten(0, 1), lb[:, is_traj].flatten())
                             + F.cross_entropy(lg[:, ~is_traj].flatten(0, 1), lb[:, ~is_traj].flatten()))
            else:
                terms.append(F.cross_entropy(lg.flatten(0, 1), lb.flatten()))
    terms = torch.stack(terms)                                               # [I * 2]
    return terms.sum(), terms.detach().view(I, 2)
