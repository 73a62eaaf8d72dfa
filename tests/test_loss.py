"""The MPDP loss against a per-token loop written independently, and its per-interval terms."""
import math

import pytest
import torch

from gltr.train.loss import TRAJECTORY_WEIGHT, mpdp_loss


def mean_ce(logits, labels, cells) -> float:
    """Mean over `cells` of -log softmax(logits[cell])[label], one cell at a time."""
    values = []
    for b, t, n in cells:
        row = logits[b, t, n].double()
        values.append(-(row[labels[b, t, n]] - torch.logsumexp(row, 0)).item())
    return sum(values) / len(values)


@pytest.mark.parametrize("weight_all", [False, True])
def test_loss_terms_match_a_per_token_loop(weight_all):
    torch.manual_seed(0)
    B, T, I, N = 2, 5, 3, 6
    trajectory = [2]
    dl, ml = torch.randn(B, T, I, N, 27), torch.randn(B, T, I, N, 16)
    d, m = torch.randint(0, 27, (B, T, I, N), dtype=torch.uint8), torch.randint(0, 16, (B, T, I, N), dtype=torch.uint8)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    loss, terms = mpdp_loss(dl, ml, d, m, mask, trajectory, weight_all)
    frames = [(b, t) for b in range(B) for t in range(T) if mask[b, t]]
    for i in range(I):
        for h, (logits, labels) in enumerate(((dl[:, :, i], d[:, :, i]), (ml[:, :, i], m[:, :, i]))):
            labels = labels.long()
            if i == 0 or weight_all:
                want = TRAJECTORY_WEIGHT * mean_ce(logits, labels, [(b, t, n) for b, t in frames for n in trajectory]) \
                    + mean_ce(logits, labels, [(b, t, n) for b, t in frames for n in range(N) if n not in trajectory])
            else:
                want = mean_ce(logits, labels, [(b, t, n) for b, t in frames for n in range(N)])
            assert terms[i, h].item() == pytest.approx(want, rel=1e-5)
    assert loss.item() == pytest.approx(terms.sum().item(), rel=1e-6)
    assert not terms.requires_grad


def test_padded_frames_do_not_change_the_loss():
    torch.manual_seed(1)
    dl, ml = torch.randn(1, 4, 1, 3, 27), torch.randn(1, 4, 1, 3, 16)
    d, m = torch.zeros(1, 4, 1, 3, dtype=torch.uint8), torch.zeros(1, 4, 1, 3, dtype=torch.uint8)
    mask = torch.tensor([[1, 1, 0, 0]], dtype=torch.bool)
    a, _ = mpdp_loss(dl, ml, d, m, mask, [0])
    dl[:, 2:], ml[:, 2:] = 1e4, -1e4                      # garbage on padded frames
    b, _ = mpdp_loss(dl, ml, d, m, mask, [0])
    assert a.item() == b.item() and math.isfinite(a.item())
