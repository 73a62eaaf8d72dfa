"""`gltr attention`: the paper's attention analysis (section 4.4, Fig. 4 and 5) of frozen encoders.

    gltr attention --checkpoint runs/a/checkpoints/latest.pt --checkpoint runs/b/checkpoints/latest.pt \
        --data data/nwucla --benchmark view --samples 300 --out runs/attention

Per checkpoint, over the first `samples` sequences of the benchmark's test split (eval mode, no
dropout), for every block and head:
- the temporal attention map of the first `frames` frames (query x key), averaged over sequences
  (per cell, over the sequences in which both frames are valid);
- the spatial attention map (token x token, N = P*K, the trajectory tokens at slot `centre` of
  each person), averaged over the valid frames of every sequence;
- the average attended frame distance: for each valid query frame q, sum_k a_qk |q - k| (padded
  keys get no weight), averaged over the valid queries of a sequence, then over sequences.
Statistics are summed batch by batch; no sequence's maps are kept, so memory is one batch's
worth: for `ntu()` at T = 300 the spatial maps dominate, 4 blocks x B x 300 frames x 8 heads x
50 x 50 floats, ~96 MB per sequence (batch 8: ~0.8 GB).
Writes <out>/attention.json and the figures (gltr.analysis.plots).
"""
import json
import time
from pathlib import Path

import torch

from gltr.configs import AttentionConfig
from gltr.train import checkpoint
from gltr.train.data import LoaderConfig, ShardLoader
from gltr.safety import atomic_file
from gltr.train.downstream import check_compatible, load_encoder
from gltr.train.prepared import PreparedData


class AttentionStats:
    """Running sums of one encoder's attention statistics; `add` one batch at a time."""

    def __init__(self, depth: int, spatial_heads: int, temporal_heads: int, tokens: int, frames: int):
        self.frames, self.sequences = frames, 0
        self.temporal_sum = torch.zeros(depth, temporal_heads, frames, frames, dtype=torch.float64)
        self.temporal_count = torch.zeros(frames, frames, dtype=torch.float64)
        self.spatial_sum = torch.zeros(depth, spatial_heads, tokens, tokens, dtype=torch.float64)
        self.spatial_frames = 0.0
        self.distance_sum = torch.zeros(depth, temporal_heads, dtype=torch.float64)

    def add(self, attention: list, mask: torch.Tensor) -> None:
        """attention: per block {"temporal": [B, h, T, T], "spatial": [B, T, h, N, N]}; mask [B, T] (True = valid)."""
        B, T = mask.shape
        F = min(self.frames, T)
        m = mask.double()                                                    # [B, T]
        pair = m[:, :F, None] * m[:, None, :F]                               # [B, F, F] both frames valid
        self.temporal_count[:F, :F] += pair.sum(0)
        steps = torch.arange(T, dtype=torch.float64)
        gap = (steps[:, None] - steps[None, :]).abs()                        # [T, T] |q - k|
        valid = m.sum(1)                                                     # [B] valid frames
        for b, a in enumerate(attention):
            t = a["temporal"].double()                                       # [B, h, T, T]
            self.temporal_sum[b, :, :F, :F] += (t[:, :, :F, :F] * pair[:, None]).sum(0)
            per_query = (t * gap).sum(-1)                                    # [B, h, T] attended distance
            per_sequence = (per_query * m[:, None]).sum(-1) / valid[:, None]  # [B, h] mean over valid queries
            self.distance_sum[b] += per_sequence.sum(0)
            s = a["spatial"]                                                 # [B, T, h, N, N], summed in its own dtype
            self.spatial_sum[b] += (s * mask[:, :, None, None, None].to(s.dtype)).sum((0, 1)).double()
        self.spatial_frames += float(valid.sum())
        self.sequences += B

    def result(self) -> dict:
        """Averages as nested lists: temporal [block][head][q][k], spatial [block][head][i][j], distance [block][head]."""
        count = self.temporal_count.clamp(min=1)
        return {"sequences": self.sequences,
                "temporal_map": (self.temporal_sum / count).tolist(),
                "temporal_map_sequences": self.temporal_count.tolist(),
                "spatial_map": (self.spatial_sum / max(self.spatial_frames, 1.0)).tolist(),
                "mean_distance": (self.distance_sum / max(self.sequences, 1)).tolist()}


@torch.no_grad()
def encoder_attention(model, loader: ShardLoader, samples: int, frames: int, device) -> dict:
    """AttentionStats.result() of `model` over the first `samples` sequences that `loader` yields."""
    cfg = model.cfg
    stats = AttentionStats(cfg.depth, cfg.spatial_heads, cfg.temporal_heads, cfg.tokens, frames)
    model.eval()
    for batch in loader.epoch(0):
        take = min(len(batch["motion"]), samples - stats.sequences)
        motion = batch["motion"][:take].to(device)                           # [B, T, P, K, 3]
        mask = batch["mask"][:take].to(device)                               # [B, T]
        _, attention = model.forward_encoder(motion, mask, return_attention=True)
        stats.add([{k: v.cpu() for k, v in a.items()} for a in attention], mask.cpu())
        if stats.sequences >= samples:
            break
    return stats.result()


MAX_BATCH = 64          # sequences per forward pass: ~6 GB of attention maps for ntu() at T = 300


def analyse(cfg: AttentionConfig, log=print) -> dict:
    """Attention statistics of every checkpoint on the same sequences; <out>/attention.json and figures."""
    from gltr.analysis.plots import attention_figures
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.samples < 1 or cfg.frames < 1 or not 1 <= cfg.batch_size <= MAX_BATCH:
        raise ValueError(f"--samples and --frames must be at least 1 and --batch-size between 1 and {MAX_BATCH}")
    out = Path(cfg.out)
    data = PreparedData.open(cfg.data)                      # read once, for every checkpoint
    results = []
    for ckpt in cfg.checkpoints:
        model, meta = load_encoder(Path(ckpt), device)
        if cfg.frames > model.cfg.t_max:                   # the temporal map is frames x frames per head: bounded
            raise ValueError(f"--frames {cfg.frames} exceeds the model's T_max {model.cfg.t_max} (the longest clip)")
        loader = ShardLoader(data, cfg.benchmark, "test", LoaderConfig(batch_size=cfg.batch_size, workers=cfg.workers,
                                                                         shuffle=False))
        check_compatible(meta, loader.index)
        started = time.perf_counter()
        stats = encoder_attention(model, loader, cfg.samples, cfg.frames, device)
        mc = meta["model_config"]
        results.append({"checkpoint": str(ckpt), "checkpoint_sha256": meta["weights_sha256"],
                        "intervals": mc["intervals"], "epoch": meta.get("epoch"), "model_config": mc,
                        "trajectory_tokens": [p * mc["joints"] + mc["centre"] for p in range(mc["persons"])],
                        "seconds": time.perf_counter() - started, **stats})
        log(f"{ckpt}: intervals {mc['intervals']}, {stats['sequences']} sequences, mean attended distance per block "
            + ", ".join(f"{sum(d) / len(d):.2f}" for d in stats["mean_distance"]))
    summary = {"data": cfg.data, "benchmark": cfg.benchmark, "split": "test", "frames": cfg.frames,
               "dataset_identity": data.identity, "git_commit": checkpoint.git_commit(),
               "encoders": results}
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / "attention.json") as tmp:
        tmp.write_text(json.dumps(summary) + "\n")
    summary["figures"] = [str(p) for p in attention_figures(summary, out)]
    return summary
