from dataclasses import replace

import pytest
import torch

from gltr.model.gltransformer import GLTConfig, GLTransformer, count_parameters, forward_gflops, ntu, nwucla, pool_valid, tiny


def test_ntu_preset_has_the_paper_parameter_counts():
    counts = count_parameters(ntu())
    assert counts["encoder"] == 198_883_200
    assert counts["heads"] == 15_486_450
    assert counts["total"] == 214_369_650


def test_forward_flops_match_the_reference_estimate():
    assert 120 < forward_gflops(ntu(), 300) < 126                    # the paper's ~123 GFLOPs at T = 300
    assert forward_gflops(ntu(), 84) < 0.3 * forward_gflops(ntu(), 300)


def test_nwucla_preset_shapes():
    cfg = nwucla()
    assert (cfg.persons, cfg.joints, cfg.centre, cfg.t_max, cfg.pos_init) == (1, 20, 2, 50, "sinusoid")
    model = GLTransformer(replace(cfg, dim=8, depth=1)).eval()
    d, m = model(torch.randn(2, 7, 1, 20, 3), torch.ones(2, 7, dtype=torch.bool))
    assert d.shape == (2, 7, 3, 20, 27) and m.shape == (2, 7, 3, 20, 16)


def small_batch(T_max):
    torch.manual_seed(0)
    lengths = [5, 9, 12]
    motion = torch.zeros(3, max(lengths), 2, 25, 3)
    mask = torch.zeros(3, max(lengths), dtype=torch.bool)
    for b, L in enumerate(lengths):
        motion[b, :L] = torch.randn(L, 2, 25, 3) * 0.1
        mask[b, :L] = True
    return motion, mask, lengths


def pad_to(x, T):
    return torch.cat([x, x.new_zeros(x.shape[0], T - x.shape[1], *x.shape[2:])], dim=1)


def test_padding_to_the_batch_longest_clip_equals_padding_to_t_max():
    cfg = replace(tiny(), t_max=40)
    model = GLTransformer(cfg).eval()
    motion, mask, lengths = small_batch(cfg.t_max)
    with torch.no_grad():
        short = model.forward_encoder(motion, mask)                        # T_b = 12
        full = model.forward_encoder(pad_to(motion, 40), pad_to(mask, 40))  # T_max = 40
        heads_short = model.forward_heads(short)
        heads_full = model.forward_heads(full)
    for b, L in enumerate(lengths):
        torch.testing.assert_close(short[b, :L], full[b, :L], rtol=0, atol=1e-5)
        torch.testing.assert_close(heads_short[0][b, :L], heads_full[0][b, :L], rtol=0, atol=1e-5)
    assert (short[0, :5] - model.forward_encoder(motion[:1, :5], mask[:1, :5])[0]).abs().max() < 1e-5


def test_attention_weights_path_equals_the_fused_path():
    model = GLTransformer(replace(tiny(), t_max=40)).eval()
    motion, mask, lengths = small_batch(40)
    with torch.no_grad():
        z = model.forward_encoder(motion, mask)
        z2, attention = model.forward_encoder(motion, mask, return_attention=True)
    torch.testing.assert_close(z, z2, rtol=0, atol=1e-5)
    temporal = attention[0]["temporal"]                                    # [B, heads, T, T]
    assert temporal.shape == (3, 4, 12, 12)
    torch.testing.assert_close(temporal.sum(-1), torch.ones(3, 4, 12))
    assert temporal[0, :, :, 5:].abs().max() == 0                          # padded keys get no weight
    assert attention[0]["spatial"].shape == (3, 12, 2, 50, 50)


def test_pool_valid_averages_only_valid_frames():
    z = torch.arange(12.0).view(1, 4, 3).repeat(2, 1, 1)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    torch.testing.assert_close(pool_valid(z, mask), torch.tensor([[1.5, 2.5, 3.5], [4.5, 5.5, 6.5]]))


def test_zero_and_sinusoid_positional_init():
    assert GLTransformer(replace(tiny(), pos_init="zeros", t_max=10)).blocks[0].pos.abs().max() == 0
    pos = GLTransformer(replace(tiny(), t_max=10)).blocks[0].pos
    assert pos.abs().max() <= 1 and pos[1].abs().sum() > 0
    with pytest.raises(ValueError):
        GLTransformer(replace(tiny(), pos_init="learned", t_max=10))


def test_checkpoint_configs_are_upgraded_explicitly_or_refused(monkeypatch):
    from gltr.model import gltransformer as m
    stored = m.tiny().to_dict()
    assert m.GLTConfig.from_dict(stored, "ckpt.pt") == m.tiny()
    with pytest.raises(ValueError, match=r"ckpt.pt: unknown model config field\(s\) heads"):
        m.GLTConfig.from_dict({**stored, "heads": 4}, "ckpt.pt")
    older = {k: v for k, v in stored.items() if k != "drop_path"}
    with pytest.raises(ValueError, match="ckpt.pt: the model config lacks drop_path"):
        m.GLTConfig.from_dict(older, "ckpt.pt")
    # a field added since: its upgrade value, not the new default 0.1
    monkeypatch.setattr(m, "CONFIG_ADDED", {"drop_path": 0.0})
    upgraded = m.GLTConfig.from_dict(older, "ckpt.pt")
    assert upgraded.drop_path == 0.0 and upgraded.spatial_heads == m.tiny().spatial_heads
    assert upgraded.intervals == (1, 5, 10)


def test_init_is_pytorchs_own_as_the_authors_code_or_gltrs_truncated_normal():
    """The authors set no init: every Linear keeps nn.Linear's U(-1/sqrt(fan_in), 1/sqrt(fan_in)), biases too.
    gltr's small() and tiny() (and every checkpoint before the option) use trunc_normal(0.02), zero biases."""
    import math
    from dataclasses import replace as swap
    torch.manual_seed(0)
    faithful = GLTransformer(swap(tiny(), init="torch"))
    for name, m in faithful.named_modules():
        if isinstance(m, torch.nn.Linear):
            bound = 1 / math.sqrt(m.in_features)
            assert m.weight.abs().max() <= bound and m.bias.abs().max() <= bound and m.bias.abs().max() > 0, name
    torch.manual_seed(0)
    gltr_init = GLTransformer(tiny())
    assert tiny().init == "trunc_normal" and gltr_init.output[0].bias.abs().max() == 0
    assert abs(gltr_init.output[0].weight.std().item() - 0.02) < 0.001
    assert GLTConfig.from_dict({k: v for k, v in tiny().to_dict().items() if k != "init"}, "old").init == "trunc_normal"
    with pytest.raises(ValueError, match="init must be"):
        GLTransformer(swap(tiny(), init="xavier"))
