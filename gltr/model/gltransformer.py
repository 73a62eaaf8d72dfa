"""GL-Transformer (Kim et al., ECCV 2022), section 3.2, as small modules.

Notable features
- Two embeddings: local joint motions share Linear(3 -> D); the body-centre trajectory
  (slot `centre` of each person) has its own Linear(3 -> D).
- Each block: trainable positional embedding (T, N, D) added to the block input, spatial
  multi-head attention over the N = P*K tokens of a frame (both persons together), the same
  embedding added again flattened to (T, N*D) ("tight"), temporal multi-head attention over
  frames with padded frames masked as keys, then a feed-forward network.
- Attention through `F.scaled_dot_product_attention`; weights only when asked.
- Variable length: a batch padded to its own longest clip T_b <= T_max uses pos[:T_b] and
  gives the same outputs on valid frames as padding to T_max.
- Output: LayerNorm then [Linear, GELU, LayerNorm] x 2 -> a (N*D)-d representation per frame;
  MPDP heads per interval: direction (27 classes) and magnitude (16 classes) per token.

Shapes: B batch, T frames, P persons, K joints, N = P*K tokens, D token width, C = N*D.
"""
import contextlib
import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from gltr import records

NUM_DIRECTIONS, NUM_MAGNITUDES = 27, 16
INITS = ("torch", "trunc_normal")


@dataclass
class GLTConfig:
    """The model's one flat config: the input's shape (persons P, joints K, the trajectory slot `centre`, T_max),
    widths, depth, heads, regularisation, initialisation and the MPDP intervals. Start from a preset (`ntu()`,
    `nwucla()`, `small()`, `tiny()`) and fit it to a prepared dataset with `for_dataset`."""
    persons: int = 2            # P
    joints: int = 25            # K
    centre: int = 20            # the trajectory slot
    t_max: int = 300            # T_max, positional embedding length
    dim: int = 48               # D, per-token width
    depth: int = 4
    spatial_heads: int = 8      # 8 heads of 6 dims for D = 48
    temporal_heads: int = 8     # 8 heads of 300 dims for C = 2400
    ffn_ratio: int = 2          # FFN hidden = ffn_ratio * C
    dropout: float = 0.1        # embedding, attention, projection and FFN dropout
    drop_path: float = 0.1      # stochastic depth, linspace(0, drop_path, depth)
    pos_init: str = "zeros"     # "zeros" (faithful) or "sinusoid" (learns on small data: docs/training.md)
    init: str = "torch"         # "torch": PyTorch's own init, as the authors' code; "trunc_normal": std 0.02
    intervals: tuple = (1, 5, 10)

    @property
    def tokens(self) -> int:
        """N = P * K tokens per frame."""
        return self.persons * self.joints

    @property
    def width(self) -> int:
        """C = N * D, the width of the per-frame representation."""
        return self.tokens * self.dim

    def to_dict(self) -> dict:
        """The config as a dict (stored in checkpoints; read back with `from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str) -> "GLTConfig":
        """The config stored in a checkpoint (`source`, named in errors), upgraded: fields added since get the
        value that reproduces the older model (CONFIG_ADDED); then
        checked (gltr.records.ModelConfig: types, ranges, divisibility, the memory its weights would take)
        before anything is built."""
        if not isinstance(d, dict):
            raise ValueError(f"{source}: the model config is not a JSON object")
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"{source}: unknown model config field(s) {', '.join(sorted(map(str, unknown)))}: "
                             f"written by a newer gltr?")
        missing = names - set(d) - set(CONFIG_ADDED)
        if missing:
            raise ValueError(f"{source}: the model config lacks {', '.join(sorted(missing))}, and no upgrade "
                             f"for it is known")
        d = {**{k: v for k, v in CONFIG_ADDED.items() if k not in d}, **d}
        checked = records.check(d, records.ModelConfig, f"{source}: model_config")   # types, ranges, size
        return cls(**{**checked.model_dump(), "intervals": tuple(checked.intervals)})


# Checkpoint upgrades. An added field: the value that gives the model as it was before the field existed (not
# the new default).
CONFIG_ADDED: dict = {"init": "trunc_normal"}          # every checkpoint before 2026-12-04 was initialised so


def ntu() -> GLTConfig:
    """The paper's NTU model: 198,883,200 encoder parameters."""
    return GLTConfig()


def nwucla() -> GLTConfig:
    """NW-UCLA: one person, 20 joints, 50 frames; paper widths and init; sinusoid positional init."""
    return GLTConfig(persons=1, joints=20, centre=2, t_max=50, pos_init="sinusoid")


def small() -> GLTConfig:
    """A CPU-sized model (D = 24) that learns real NW-UCLA in minutes."""
    return GLTConfig(persons=1, joints=20, centre=2, t_max=50, dim=24, spatial_heads=4, temporal_heads=8,
                     pos_init="sinusoid", init="trunc_normal")


def tiny() -> GLTConfig:
    """For tests and CPU demos."""
    return GLTConfig(dim=8, depth=2, spatial_heads=2, temporal_heads=4, pos_init="sinusoid", init="trunc_normal")


PRESETS = {"ntu": ntu, "nwucla": nwucla, "small": small, "tiny": tiny}


def for_dataset(cfg: GLTConfig, persons: int, joints: int, centre: int, t_max: int, **kw) -> GLTConfig:
    """The preset's widths and depth with the prepared dataset's persons, joints, centre and T_max."""
    return replace(cfg, persons=persons, joints=joints, centre=centre, t_max=t_max, **kw)


def for_variant(variant, preset: str | None = None, intervals: tuple | None = None,
                pos_init: str | None = None) -> GLTConfig:
    """A preset (default: the dataset's pretraining preset) sized for a prepared dataset (`gltr.datasets.Variant`:
    persons, joints, centre joint, T_max) with its MPDP intervals (default: the variant's)."""
    intervals = tuple(intervals or variant.intervals)
    if not intervals or any(not 1 <= n < variant.t_max for n in intervals) or len(set(intervals)) != len(intervals):
        raise ValueError(f"intervals must be distinct frame steps between 1 and {variant.t_max - 1}, not {intervals}")
    cfg = for_dataset(PRESETS[preset or variant.info.pretrain_preset](), variant.persons, variant.joints,
                      variant.centre_joint, variant.t_max, intervals=intervals)
    return replace(cfg, pos_init=pos_init) if pos_init else cfg


def sinusoid_table(T: int, C: int) -> torch.Tensor:
    """[T, C] the usual sin/cos table (amplitude 1)."""
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    i = torch.arange(C, dtype=torch.float64)[None]
    angle = pos / torch.pow(10000.0, 2 * (i // 2) / C)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).float()


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class Attention(nn.Module):
    """Multi-head self-attention over the second-to-last axis, optional key mask."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        assert dim % heads == 0, (dim, heads)
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x, key_mask=None, return_attention=False):
        S, L, C = x.shape                                                   # sequences, length, channels
        q, k, v = self.qkv(x).view(S, L, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # 3 x [S, h, L, c]
        mask = None if key_mask is None else key_mask[:, None, None, :]     # [S, 1, 1, L], True = attend
        attention = None
        if return_attention:
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])      # [S, h, L, L]
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            attention = scores.softmax(-1)
            y = F.dropout(attention, self.dropout, self.training) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(S, L, C)                              # [S, L, C]
        return self.proj_drop(self.proj(y)), attention


class Block(nn.Module):
    def __init__(self, cfg: GLTConfig, drop_path: float):
        super().__init__()
        N, D, C = cfg.tokens, cfg.dim, cfg.width
        self.pos = nn.Parameter(torch.zeros(cfg.t_max, N, D))
        self.norm_spatial = nn.LayerNorm(D)
        self.spatial = Attention(D, cfg.spatial_heads, cfg.dropout)
        self.norm_temporal = nn.LayerNorm(C)
        self.temporal = Attention(C, cfg.temporal_heads, cfg.dropout)
        self.norm_ffn = nn.LayerNorm(C)
        self.ffn = nn.Sequential(nn.Linear(C, cfg.ffn_ratio * C), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.ffn_ratio * C, C), nn.Dropout(cfg.dropout))
        self.drop_path = DropPath(drop_path)

    def forward(self, x, frame_mask, return_attention=False):
        B, T, N, D = x.shape
        pos = self.pos[:T]                                                  # [T, N, D]
        x = x + pos
        h, a_spatial = self.spatial(self.norm_spatial(x).reshape(B * T, N, D), None, return_attention)
        x = x + self.drop_path(h.view(B, T, N, D))                           # [B, T, N, D]
        x = x.reshape(B, T, N * D) + pos.reshape(T, N * D)                  # [B, T, C]
        h, a_temporal = self.temporal(self.norm_temporal(x), frame_mask, return_attention)
        x = x + self.drop_path(h)
        x = x + self.drop_path(self.ffn(self.norm_ffn(x)))                   # [B, T, C]
        attention = None if not return_attention else {
            "spatial": a_spatial.view(B, T, *a_spatial.shape[1:]), "temporal": a_temporal}
        return x.view(B, T, N, D), attention


class GLTransformer(nn.Module):
    """Encoder (embeddings, blocks, output MLP) plus MPDP heads."""

    def __init__(self, cfg: GLTConfig):
        super().__init__()
        self.cfg = cfg
        C = cfg.width
        self.embed_joint = nn.Linear(3, cfg.dim)
        self.embed_trajectory = nn.Linear(3, cfg.dim)
        self.embed_drop = nn.Dropout(cfg.dropout)
        rates = [cfg.drop_path * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)]  # linspace(0, drop_path, depth)
        self.blocks = nn.ModuleList([Block(cfg, r) for r in rates])
        self.norm = nn.LayerNorm(C)
        self.output = nn.Sequential(nn.Linear(C, C), nn.GELU(), nn.LayerNorm(C),
                                    nn.Linear(C, C), nn.GELU(), nn.LayerNorm(C))
        self.head_direction = nn.ModuleList([nn.Linear(C, cfg.tokens * NUM_DIRECTIONS) for _ in cfg.intervals])
        self.head_magnitude = nn.ModuleList([nn.Linear(C, cfg.tokens * NUM_MAGNITUDES) for _ in cfg.intervals])
        self.init_weights()
        self.fp32_input = False         # input embeddings in fp32 under autocast (gltr.train.precision sets it)

    def init_weights(self):
        """`init="torch"`: every layer keeps PyTorch's own init, as in the authors' code (they set none).
        `init="trunc_normal"` (gltr's small() and tiny(), and every checkpoint before 2026-12-04): Linear
        weights truncated-normal with std 0.02 and zero biases, except the two 3 -> D embeddings: with
        fan-in 3, std 0.02 makes the tokens ~0.01 in size, ~70x smaller than a sinusoidal positional
        embedding, and the encoder then all but ignores its input (random-encoder probe on NW-UCLA: 25 %
        vs 45 %)."""
        if self.cfg.init == "trunc_normal":                 # in this order, so a seed gives the weights it gave
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    nn.init.zeros_(m.bias)
            self.embed_joint.reset_parameters()
            self.embed_trajectory.reset_parameters()
        elif self.cfg.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, not {self.cfg.init!r}")
        for block in self.blocks:
            if self.cfg.pos_init == "sinusoid":
                block.pos.data.copy_(sinusoid_table(self.cfg.t_max, self.cfg.width).view_as(block.pos))
            elif self.cfg.pos_init == "zeros":
                nn.init.zeros_(block.pos)
            else:
                raise ValueError(f"pos_init must be 'zeros' or 'sinusoid', not {self.cfg.pos_init!r}")

    def encoder_parameters(self):
        """Every parameter but the MPDP heads': what a downstream probe or fine-tune keeps."""
        return [p for n, p in self.named_parameters() if not n.startswith("head_")]

    def embed(self, motion):
        """Joint and trajectory embeddings. With `fp32_input` set (the bf16-fp32-input precision) they run in
        fp32 even under autocast: bf16 would round the coordinates to ~2 mm, the size of the displacements
        MPDP predicts."""
        B, T, P, K, _ = motion.shape
        with torch.autocast(motion.device.type, enabled=False) if self.fp32_input else contextlib.nullcontext():
            x = self.embed_joint(motion)                                    # [B, T, P, K, D]
            trajectory = self.embed_trajectory(motion[:, :, :, self.cfg.centre])  # [B, T, P, D]
        x = torch.cat([x[:, :, :, :self.cfg.centre], trajectory[:, :, :, None], x[:, :, :, self.cfg.centre + 1:]], dim=3)
        return self.embed_drop(x.reshape(B, T, P * K, -1))                  # [B, T, N, D]

    def forward_encoder(self, motion, frame_mask, return_attention=False):
        """motion [B, T, P, K, 3], frame_mask [B, T] (True = valid) -> representation [B, T, C]."""
        B, T, P, K, _ = motion.shape
        assert T <= self.cfg.t_max and (P, K) == (self.cfg.persons, self.cfg.joints), (motion.shape, self.cfg)
        x = self.embed(motion)                                              # [B, T, N, D]
        attention = []
        for block in self.blocks:
            x, a = block(x, frame_mask, return_attention)
            attention.append(a)
        z = self.output(self.norm(x.reshape(B, T, -1)))                     # [B, T, C]
        return (z, attention) if return_attention else z

    def forward_heads(self, z):
        """z [B, T, C] -> direction logits [B, T, I, N, 27], magnitude logits [B, T, I, N, 16]."""
        B, T, _ = z.shape
        N = self.cfg.tokens
        direction = torch.stack([h(z).view(B, T, N, NUM_DIRECTIONS) for h in self.head_direction], dim=2)
        magnitude = torch.stack([h(z).view(B, T, N, NUM_MAGNITUDES) for h in self.head_magnitude], dim=2)
        return direction, magnitude

    def forward(self, motion, frame_mask):
        """motion [B, T, P, K, 3], frame_mask [B, T] -> MPDP logits: direction [B, T, I, N, 27], magnitude
        [B, T, I, N, 16]."""
        return self.forward_heads(self.forward_encoder(motion, frame_mask))


def pool_valid(z, frame_mask):
    """Mean of the per-frame representation over valid frames: [B, T, C] -> [B, C]."""
    m = frame_mask.to(z.dtype)[..., None]                                   # [B, T, 1]
    return (z * m).sum(1) / m.sum(1).clamp(min=1)


def count_parameters(cfg: GLTConfig) -> dict:
    """Encoder and head parameter counts (built on the meta device: no memory used)."""
    with torch.device("meta"):
        model = GLTransformer(cfg)
    encoder = sum(p.numel() for p in model.encoder_parameters())
    total = sum(p.numel() for p in model.parameters())
    return {"encoder": encoder, "heads": total - encoder, "total": total}


def forward_gflops(cfg: GLTConfig, frames: int) -> float:
    """Encoder forward GFLOPs (multiply-add = 2 FLOPs) for one sequence of `frames` frames."""
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device("meta"):
        model = GLTransformer(cfg).eval()
        motion = torch.zeros(1, frames, cfg.persons, cfg.joints, 3)
        mask = torch.ones(1, frames, dtype=torch.bool)
        with FlopCounterMode(display=False) as counter:
            model.forward_encoder(motion, mask)
    return counter.get_total_flops() / 1e9
