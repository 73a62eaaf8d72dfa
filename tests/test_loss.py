"""The MPDP loss against a per-cell loop written independently, and its per-interval terms."""
import math

import pytest
import torch

from gltr.train.loss import TRAJECTORY_WEIGHT, mpdp_loss


def ce(row, label) -> float:
    """-log softmax(row)[label] in float64."""
    row = row.double()
    return -(row[int(label)] - torch.logsumexp(row, 0)).item()


def mean_ce(logits, labels, cells) -> float:
    """Mean over `cells` (b, t, i, n) of the cross-entropy, one cell at a time."""
    return sum(ce(logits[c], labels[c]) for c in cells) / len(cells)


def inputs():
    torch.manual_seed(0)
    B, T, I, N = 2, 5, 3, 6
    dl, ml = torch.randn(B, T, I, N, 27), torch.randn(B, T, I, N, 16)
    d, m = torch.randint(0, 27, (B, T, I, N), dtype=torch.uint8), torch.randint(0, 16, (B, T, I, N), dtype=torch.uint8)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    frames = [(b, t) for b in range(B) for t in range(T) if mask[b, t]]
    return dl, ml, d, m, mask, frames, I, N


@pytest.mark.parametrize("weight_all", [False, True])
def test_pooled_loss_and_its_terms_match_a_per_token_loop(weight_all):
    """The authors' reduction: per head, one mean over the weighted (interval, trajectory) cells and one over
    all other cells of all intervals; each interval's term is its cells' share of both means."""
    dl, ml, d, m, mask, frames, I, N = inputs()
    trajectory = [2]
    loss, terms = mpdp_loss(dl, ml, d, m, mask, trajectory, weight_all)
    weighted = [(i, n) for i in range(I) for n in trajectory if i == 0 or weight_all]
    others = [(i, n) for i in range(I) for n in range(N) if (i, n) not in weighted]
    want = 0.0
    for h, (logits, labels) in enumerate(((dl, d), (ml, m))):
        per_cell = {(i, n): [ce(logits[b, t, i, n], labels[b, t, i, n]) for b, t in frames]
                    for i in range(I) for n in range(N)}
        for i in range(I):
            share = (TRAJECTORY_WEIGHT * sum(sum(per_cell[c]) for c in weighted if c[0] == i) / (len(frames) * len(weighted))
                     + sum(sum(per_cell[c]) for c in others if c[0] == i) / (len(frames) * len(others)))
            assert terms[i, h].item() == pytest.approx(share, rel=1e-5)
        want += (TRAJECTORY_WEIGHT * mean_ce(logits, labels, [(b, t, i, n) for b, t in frames for i, n in weighted])
                 + mean_ce(logits, labels, [(b, t, i, n) for b, t in frames for i, n in others]))
    assert loss.item() == pytest.approx(want, rel=1e-5)
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
