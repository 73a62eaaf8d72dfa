"""`gltr attention`: statistics that known attention makes known, masking, batching, the command's outputs."""
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gltr.analysis.attention import AttentionStats, encoder_attention
from gltr.cli.main import app
from gltr.model.gltransformer import GLTConfig, GLTransformer
from gltr.train.pretrain import PretrainConfig, train


def uniform_distance(L: int) -> float:
    return (L * L - 1) / (3 * L)


def uniform_attention(lengths: list, T: int, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, h, T, T] uniform over each sequence's valid keys, and the mask [B, T]."""
    mask = torch.arange(T)[None] < torch.tensor(lengths)[:, None]
    a = mask[:, None, None, :].double().expand(len(lengths), heads, T, T)
    return a / a.sum(-1, keepdim=True), mask


def spatial_uniform(B: int, T: int, heads: int, N: int) -> torch.Tensor:
    return torch.full((B, T, heads, N, N), 1.0 / N)


def test_uniform_attention_gives_the_closed_form_distance_and_map():
    lengths, T, F = [7, 12, 3], 12, 10
    temporal, mask = uniform_attention(lengths, T, heads=2)
    stats = AttentionStats(depth=1, spatial_heads=1, temporal_heads=2, tokens=4, frames=F)
    stats.add([{"temporal": temporal, "spatial": spatial_uniform(3, T, 1, 4)}], mask)
    r = stats.result()
    want = np.mean([uniform_distance(L) for L in lengths])               # per sequence, then over sequences
    assert r["mean_distance"][0] == pytest.approx([want, want], abs=1e-12)
    m = np.array(r["temporal_map"][0][0])
    # cell (q, k) averages over the sequences where both are valid: rows of 3 frames mix 1/3, 1/7, 1/12
    assert m[0, 0] == pytest.approx(np.mean([1 / 7, 1 / 12, 1 / 3]))
    assert m[5, 5] == pytest.approx(np.mean([1 / 7, 1 / 12]))
    assert m[9, 9] == pytest.approx(1 / 12)
    assert np.array(r["temporal_map_sequences"])[0, 0] == 3 and np.array(r["temporal_map_sequences"])[9, 9] == 1
    assert np.allclose(r["spatial_map"][0][0], 0.25)


def test_identity_attention_gives_zero_distance():
    T = 9
    mask = torch.ones(2, T, dtype=torch.bool)
    identity = torch.eye(T, dtype=torch.float64).expand(2, 3, T, T)
    stats = AttentionStats(1, 1, 3, 4, frames=5)
    stats.add([{"temporal": identity, "spatial": spatial_uniform(2, T, 1, 4)}], mask)
    r = stats.result()
    assert r["mean_distance"][0] == [0.0, 0.0, 0.0]
    assert np.array_equal(np.array(r["temporal_map"][0][1]), np.eye(5))


def test_batches_sum_to_the_whole():
    torch.manual_seed(0)
    B, T, h, N = 6, 11, 2, 5
    lengths = [11, 4, 9, 1, 11, 6]
    mask = torch.arange(T)[None] < torch.tensor(lengths)[:, None]
    temporal = torch.rand(B, h, T, T).masked_fill(~mask[:, None, None, :], 0)
    temporal = temporal / temporal.sum(-1, keepdim=True)
    spatial = torch.rand(B, T, h, N, N).softmax(-1)
    whole, parts = AttentionStats(1, h, h, N, 8), AttentionStats(1, h, h, N, 8)
    whole.add([{"temporal": temporal, "spatial": spatial}], mask)
    for sl in (slice(0, 2), slice(2, 3), slice(3, 6)):
        parts.add([{"temporal": temporal[sl], "spatial": spatial[sl]}], mask[sl])
    a, b = whole.result(), parts.result()
    for key in ("mean_distance", "temporal_map", "spatial_map"):
        assert np.allclose(a[key], b[key], atol=1e-12)
    # the spatial map is an average over valid frames only: padded frames' rows do not count
    valid = mask.double()
    manual = (spatial.double() * valid[:, :, None, None, None]).sum((0, 1)) / valid.sum()
    assert np.allclose(a["spatial_map"][0], manual.numpy())


class OneBatch:
    def __init__(self, motion, mask):
        self.batch = {"motion": motion, "mask": mask}

    def epoch(self, epoch):
        yield self.batch


def test_a_model_with_zero_queries_and_keys_attends_uniformly_and_never_to_padding():
    torch.manual_seed(0)
    cfg = GLTConfig(persons=1, joints=5, centre=2, t_max=20, dim=4, depth=2, spatial_heads=2, temporal_heads=2)
    model = GLTransformer(cfg)
    C = cfg.width
    with torch.no_grad():
        for block in model.blocks:                  # q = k = 0: every valid key scores the same
            block.temporal.qkv.weight[:2 * C] = 0
            block.temporal.qkv.bias[:2 * C] = 0
    lengths = [20, 13, 6]
    mask = torch.arange(20)[None] < torch.tensor(lengths)[:, None]
    motion = torch.randn(3, 20, 1, 5, 3) * mask[:, :, None, None, None]
    model.eval()
    _, attention = model.forward_encoder(motion, mask, return_attention=True)
    for a in attention:
        t = a["temporal"]                                             # [B, h, T, T]
        assert (t.masked_select(~mask[:, None, None, :].expand_as(t)) == 0).all()   # padded keys: no weight
    r = encoder_attention(model, OneBatch(motion, mask), samples=3, frames=10, device=torch.device("cpu"))
    want = np.mean([uniform_distance(L) for L in lengths])
    assert np.allclose(r["mean_distance"], want, atol=1e-5)
    r2 = encoder_attention(model, OneBatch(motion, mask), samples=2, frames=10, device=torch.device("cpu"))
    assert r2["sequences"] == 2 and np.allclose(r2["mean_distance"], np.mean([uniform_distance(L) for L in lengths[:2]]),
                                                atol=1e-5)


def test_command_compares_two_checkpoints(synth_ntu_prepared, tmp_path):
    ckpts = []
    for intervals in ((1,), (1, 5, 10)):
        out = tmp_path / f"run{len(intervals)}"
        train(PretrainConfig(data=str(synth_ntu_prepared), benchmark="xsub", out=str(out), preset="tiny", epochs=1,
                             batch_size=8, max_steps=2, workers=0, intervals=intervals))
        ckpts.append(out / "checkpoints/latest.pt")
    result = CliRunner().invoke(app, ["attention", "--checkpoint", str(ckpts[0]), "--checkpoint", str(ckpts[1]),
                                      "--data", str(synth_ntu_prepared), "--benchmark", "xsub", "--samples", "5",
                                      "--out", str(tmp_path / "att")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "att/attention.json").read_text())
    cfg = GLTConfig(depth=2, spatial_heads=2, temporal_heads=4)          # tiny()
    assert [e["intervals"] for e in summary["encoders"]] == [[1], [1, 5, 10]]
    for e in summary["encoders"]:
        assert e["sequences"] == 5 and e["trajectory_tokens"] == [20, 45]
        assert np.array(e["temporal_map"]).shape == (cfg.depth, cfg.temporal_heads, 30, 30)
        assert np.array(e["spatial_map"]).shape == (cfg.depth, cfg.spatial_heads, 50, 50)
        assert np.allclose(np.array(e["spatial_map"]).sum(-1), 1, atol=1e-5)     # rows are distributions
        d = np.array(e["mean_distance"])
        assert d.shape == (2, 4) and (d > 0).all()
    from PIL import Image
    for name in ("attended_distance.png", "temporal_maps_0-i1.png", "spatial_maps_1-i1-5-10.png"):
        image = np.asarray(Image.open(tmp_path / "att" / name).convert("L"))
        assert image.std() > 5, name                                     # not blank
