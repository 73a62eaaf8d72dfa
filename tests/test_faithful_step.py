"""One whole pretraining step of gltr (`mpdp_objective` then `optimizer_step` at step 0's lr, as `train` runs
them) against the authors' learn_PTmodel.py and feeder written out (tests/naive.py): the MPDP labels, the loss, every parameter's gradient and every parameter
after AdamW, in NTU's layout (their code's) and NW-UCLA's one-person layout (the same lines carried over)."""
import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

import naive
from gltr.configs import PretrainConfig
from gltr.model.gltransformer import GLTransformer, tiny
from gltr.train import pretrain

LENGTHS = (40, 33, 26)
INTERVALS = (1, 5, 10)
LAYOUTS = {"ntu": dict(persons=2, joints=25, centre=20, t_max=300),
           "nwucla": dict(persons=1, joints=20, centre=2, t_max=50)}


def batch(persons: int, joints: int) -> tuple[torch.Tensor, torch.Tensor]:
    """3 clips of unequal lengths, zero-padded to 40 frames; with two persons, clip 1 has no second one.
    Coordinates on a 5 mm grid, so that some displacements are exactly zero (direction classes with s = 1)."""
    rng = np.random.default_rng(0)
    motion = np.zeros((len(LENGTHS), max(LENGTHS), persons, joints, 3), np.float32)
    for b, L in enumerate(LENGTHS):
        walk = np.cumsum(rng.integers(-2, 3, (L, persons, joints, 3)), axis=0) * 0.005
        motion[b, :L] = walk + rng.normal(0, 0.3, (1, persons, joints, 3)).round(2)
    if persons > 1:
        motion[1, :, 1] = 0
    mask = np.arange(max(LENGTHS))[None] < np.array(LENGTHS)[:, None]
    return torch.from_numpy(motion), torch.from_numpy(mask)


def to_authors_layout(x: torch.Tensor, persons: int) -> torch.Tensor:
    """Ours [B, T, I, N = P*K (person-major), classes] -> theirs [b, c, f, (interval joint person)]."""
    B, T, I, N, C = x.shape
    return x.view(B, T, I, persons, N // persons, C).permute(0, 5, 1, 2, 4, 3).reshape(B, C, T, I * N)


def authors_labels(motion: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Their feeder's labels per clip: the clip as their [C, T, V, M] float64 array, padded with 99.9."""
    B, T = motion.shape[:2]
    out = []
    for b, L in enumerate(LENGTHS):
        data = np.full((3, T, motion.shape[3], motion.shape[2]), 99.9)
        data[:, :L] = motion[b, :L].transpose(3, 0, 2, 1)                  # [L, P, K, 3] -> [3, L, K, P]
        out.append(naive.authors_feeder_labels(data, INTERVALS))
    return tuple(torch.from_numpy(np.stack([o[i] for o in out])) for i in (0, 1))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_one_training_step_equals_the_authors(layout, monkeypatch):
    shape = LAYOUTS[layout]
    P = shape["persons"]
    cfg = PretrainConfig(data="unused", benchmark="xsub")                # gltr's defaults
    torch.manual_seed(0)
    ours = GLTransformer(replace(tiny(), dropout=0.0, drop_path=0.0, **shape)).train()
    theirs = copy.deepcopy(ours)
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    motion, mask = batch(P, shape["joints"])

    seen = {}

    def spy(*args):
        seen["labels"] = args[2:4]
        seen["loss"], _ = loss = real_loss(*args)
        return loss

    real_loss = pretrain.mpdp_loss
    monkeypatch.setattr(pretrain, "mpdp_loss", spy)
    optimizer = pretrain.optimizer_for(ours, cfg)
    lr = pretrain.pretrain_lr(cfg.lr, 0, 0, 1, 1, cfg.schedule, cfg.lr_decay, cfg.warmup_epochs)   # train()'s, step 0
    loss_ours, _ = pretrain.mpdp_objective(ours, motion, mask, INTERVALS,
                                           [p * shape["joints"] + shape["centre"] for p in range(P)],
                                           cfg.trajectory_weight_all, "fp32")
    pretrain.optimizer_step(optimizer, loss_ours, lr)
    grads_ours = {n: p.grad.clone() for n, p in ours.named_parameters()}

    # the authors' step: their feeder's labels, their loss lines, their optimiser (learn_PTmodel.py: lr 5e-5)
    dir_gt, mag_gt = authors_labels(motion.numpy())
    optimizer_theirs = torch.optim.AdamW(theirs.parameters(), lr=5e-5, weight_decay=0.1)
    optimizer_theirs.zero_grad()
    out, out2 = theirs(motion, mask)
    loss = naive.authors_mpdp_loss(to_authors_layout(out, P), to_authors_layout(out2, P), dir_gt, mag_gt, mask,
                                   persons=P, centre=shape["centre"])
    loss.backward()
    grads_theirs = {n: p.grad.clone() for n, p in theirs.named_parameters()}
    optimizer_theirs.step()

    # labels on valid frames: equal
    for ours_labels, their_labels in zip(seen["labels"], (dir_gt, mag_gt)):
        mine = to_authors_layout(ours_labels[..., None].long(), P)[:, 0]    # [B, T, (interval joint person)]
        assert torch.equal(mine[mask], their_labels[mask])
    # the loss, then every gradient and every parameter after the update
    assert seen["loss"].item() == pytest.approx(loss.item(), rel=1e-5)
    assert set(grads_ours) == set(grads_theirs)
    for name, g in grads_theirs.items():
        scale = g.abs().max().item()
        assert (grads_ours[name] - g).abs().max().item() <= 1e-4 * scale + 1e-12, name
    after_theirs = theirs.state_dict()
    moved = 0
    for name, p in ours.state_dict().items():
        # Adam's first step is lr * g / (|g| + eps) (+ decay): equal to 1/1000 of a step, plus what the
        # gradients' own difference moves it (lr * |dg| / (|g| + eps), large only where g ~ eps), plus two
        # float32 roundings of the parameter
        g, dg = grads_theirs[name], (grads_ours[name] - grads_theirs[name]).abs()
        tolerance = 5e-5 * (1e-3 + dg / (g.abs() + 1e-8)) + 2 * 2**-23 * p.abs()
        assert ((p - after_theirs[name]).abs() <= tolerance).all(), name
        step_ours, step_theirs = p - before[name], after_theirs[name] - before[name]
        big = step_theirs.abs() > 0.5 * 5e-5                                # Adam's first step: ~lr x sign(grad)
        assert torch.equal(step_ours[big].sign(), step_theirs[big].sign()), name
        moved += int((step_theirs != 0).sum())
    assert moved > 0.9 * sum(p.numel() for p in theirs.parameters())     # the step did move the model


def test_train_steps_at_the_schedules_lr_and_counts_its_steps(synth_ntu_prepared, tmp_path, monkeypatch):
    """The loop around the step above: train() hands optimizer_step the schedule's lr of each step, counts steps
    and batches, and stops (with a resumable checkpoint) at --max-steps."""
    from gltr.train import checkpoint
    from gltr.train.data import LoaderConfig, ShardLoader
    batches = len(ShardLoader(synth_ntu_prepared, "xsub", "train", LoaderConfig(batch_size=8, workers=0)))
    steps = batches + 2                                                      # into the second epoch
    lrs, real_step = [], pretrain.optimizer_step
    monkeypatch.setattr(pretrain, "optimizer_step", lambda opt, loss, lr: lrs.append(lr) or real_step(opt, loss, lr))
    cfg = PretrainConfig(data=str(synth_ntu_prepared), benchmark="xsub", out=str(tmp_path), preset="tiny", epochs=3,
                         batch_size=8, workers=0, lr=1e-3, lr_decay=0.5, max_steps=steps)
    summary = pretrain.train(cfg)
    assert summary["steps"] == steps and summary["stopped_early"]
    assert lrs == [pretrain.pretrain_lr(1e-3, s, s // batches, batches, 3, "exp", 0.5, 0) for s in range(steps)]
    assert lrs[0] == 1e-3 and lrs[-1] == 5e-4                                # the exp decay, per epoch
    meta = checkpoint.load_meta(tmp_path / "checkpoints/latest.pt")
    assert meta["step"] == steps and (meta["loader"]["epoch"], meta["loader"]["batch"]) == (1, 2)
