"""A second model from gltr's shards: a small supervised ST-GCN on NW-UCLA, stand-alone.

Imports only torch, numpy and webdataset (never gltr): it reads the prepared dataset exactly as any
other model would, through the shard index JSON and stock `webdataset`.

    python examples/stgcn_nwucla.py --data data/nwucla --out runs/stgcn                    # the run in docs/exports.md
    python examples/stgcn_nwucla.py --data data/nwucla --epochs 1 --width 4 --out /tmp/x   # a smoke run

Input: the prepared `motion.npy.gz` (local joint positions around the body centre, the trajectory in
the centre slot; [L, 1, 20, 3]), zero-padded to 50 frames. Model: ST-GCN (Yan et al., 2018) with
the spatial-configuration partition of the Kinect v1 skeleton, six blocks; by default two of them,
one on the joints and one on the bones, their softmax scores summed (as two-stream GCNs do).
Training: SGD with Nesterov momentum, one-cycle schedule, random scaling and rotation about the
vertical axis as augmentation; the final epoch's view-3 test accuracy is the result
(`--validation` scores on held-out training clips instead, for choosing a recipe).
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import webdataset as wds

JOINTS, FRAMES, CLASSES, CENTRE = 20, 50, 10, 2
BONES = [(0, 1), (1, 2), (3, 2), (4, 2), (5, 4), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9), (11, 10),
         (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18)]   # Kinect v1, 0-based


# ----------------------------------------------------------------------------- data

def load_split(data: str, benchmark: str, split: str) -> tuple[torch.Tensor, torch.Tensor, list]:
    """Every sample of a split: x [N, 3, T, V] float32 zero-padded to FRAMES, y [N], keys (stock webdataset)."""
    index = json.load(open(Path(data) / "shards" / benchmark / f"{split}.json"))
    urls = [str(Path(data) / "shards" / benchmark / s["name"]) for s in index["shards"]]
    xs, ys, keys = [], [], []
    for sample in wds.WebDataset(urls, shardshuffle=False).decode():
        motion = sample["motion.npy.gz"][:FRAMES, 0]                     # [L, V, 3], one person
        x = np.zeros((FRAMES, JOINTS, 3), np.float32)
        x[:len(motion)] = motion
        xs.append(x.transpose(2, 0, 1))                               # [3, T, V]
        ys.append(int(sample["cls"]))
        keys.append(sample["__key__"])
    assert len(xs) == index["num_samples"], (len(xs), index["num_samples"])
    return torch.from_numpy(np.stack(xs)), torch.tensor(ys), keys


# ----------------------------------------------------------------------------- model

def hops_from_centre() -> np.ndarray:
    """[V] number of bones between each joint and the centre."""
    hops = np.full(JOINTS, np.inf)
    hops[CENTRE] = 0
    for _ in range(JOINTS):
        for i, j in BONES:
            hops[i] = min(hops[i], hops[j] + 1)
            hops[j] = min(hops[j], hops[i] + 1)
    return hops


def parents() -> list:
    """[V] each joint's neighbour one bone nearer the centre (the centre: itself)."""
    hops, parent = hops_from_centre(), list(range(JOINTS))
    for i, j in BONES:
        child, towards = (i, j) if hops[i] > hops[j] else (j, i)
        parent[child] = towards
    return parent


PARENTS = parents()


def as_stream(x: torch.Tensor, stream: str) -> torch.Tensor:
    """x [B, 3, T, V] joints (zero-padded frames) -> the stream's input [B, 3, T, V]: the joints themselves,
    or the bones (each joint minus its parent; the centre slot holds the trajectory, so a bone to the
    centre is the joint itself and the centre's own bone is 0), as in two-stream GCNs (2s-AGCN)."""
    if stream == "joint":
        return x
    origin = x.clone()
    origin[..., CENTRE] = 0                                                   # the centre's local position
    return origin - origin[..., PARENTS]


def partitions() -> torch.Tensor:
    """[3, V, V] spatial-configuration partition: self, towards the centre (root), away from it; each
    column-normalised."""
    hops = hops_from_centre()
    A = np.zeros((3, JOINTS, JOINTS), np.float32)
    A[0] = np.eye(JOINTS)
    for i, j in BONES:
        for a, b in ((i, j), (j, i)):                                 # message from b to a
            A[1 if hops[b] < hops[a] else 2, a, b] = 1
    degree = A.sum((0, 1))                                            # incoming per joint
    return torch.from_numpy(A / np.maximum(degree, 1)[None, None, :])


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, A: torch.Tensor, stride: int = 1, dropout: float = 0.1):
        super().__init__()
        self.register_buffer("A", A)
        self.edge = nn.Parameter(torch.ones_like(A))                  # learnable edge importance
        self.gcn = nn.Conv2d(cin, cout * len(A), 1)
        self.tcn = nn.Sequential(nn.BatchNorm2d(cout), nn.ReLU(), nn.Conv2d(cout, cout, (9, 1), (stride, 1), (4, 0)),
                                 nn.BatchNorm2d(cout), nn.Dropout(dropout))
        self.residual = (nn.Identity() if cin == cout and stride == 1 else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, (stride, 1)), nn.BatchNorm2d(cout)))

    def forward(self, x):
        B, C, T, V = x.shape
        y = self.gcn(x).view(B, len(self.A), -1, T, V)                # [B, K, C', T, V]
        y = torch.einsum("bkctv,kwv->bctw", y, self.A * self.edge)    # sum over neighbours v of w
        return F.relu(self.tcn(y) + self.residual(x))


class STGCN(nn.Module):
    def __init__(self, width: int = 32, stream: str = "joint"):
        super().__init__()
        A = partitions()
        self.stream = stream
        self.data_bn = nn.BatchNorm1d(3 * JOINTS)
        w = width
        self.blocks = nn.ModuleList([Block(3, w, A), Block(w, w, A), Block(w, 2 * w, A, 2), Block(2 * w, 2 * w, A),
                                     Block(2 * w, 4 * w, A, 2), Block(4 * w, 4 * w, A)])
        self.fc = nn.Linear(4 * w, CLASSES)

    def forward(self, x):
        x = as_stream(x, self.stream)
        B, C, T, V = x.shape                                          # [B, 3, T, V]
        x = self.data_bn(x.permute(0, 3, 1, 2).reshape(B, V * C, T)).view(B, V, C, T).permute(0, 2, 3, 1)
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean((2, 3)))                                # [B, classes]


# ----------------------------------------------------------------------------- training

def rotate_y(x: torch.Tensor, angles: np.ndarray) -> torch.Tensor:
    """x [B, 3, T, V] rotated about the vertical (y) axis by one angle per sample."""
    c, s = torch.from_numpy(np.cos(angles)).float(), torch.from_numpy(np.sin(angles)).float()
    R = torch.zeros(len(angles), 3, 3)
    R[:, 0, 0], R[:, 0, 2], R[:, 1, 1], R[:, 2, 0], R[:, 2, 2] = c, s, 1, -s, c
    return torch.einsum("bij,bjtv->bitv", R, x)


def probabilities(model, x, batch: int = 256) -> torch.Tensor:
    """[N, classes] softmax scores of the model in eval mode."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]).softmax(1) for i in range(0, len(x), batch)])


def train(args, stream: str, x_train, y_train, cpu_started: float) -> tuple[nn.Module, list]:
    """One model on one stream: SGD + one-cycle, random scaling and rotation; returns it and its loss log."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = STGCN(args.width, stream)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = args.epochs * math.ceil(len(x_train) / args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=steps, pct_start=0.1)
    log = []
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(x_train))
        total = 0.0
        for i in range(0, len(order), args.batch_size):
            idx = torch.from_numpy(order[i:i + args.batch_size])
            x = x_train[idx] * torch.from_numpy(rng.uniform(0.9, 1.1, (len(idx), 3, 1, 1)).astype(np.float32))
            if args.rotate:
                x = rotate_y(x, np.radians(rng.uniform(-args.rotate, args.rotate, len(idx))))
            loss = F.cross_entropy(model(x), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(idx)
        log.append({"stream": stream, "epoch": epoch + 1, "loss": total / len(x_train),
                    "cpu_s": time.process_time() - cpu_started})
        print(f"{stream} epoch {epoch + 1}/{args.epochs}: loss {log[-1]['loss']:.4f}", flush=True)
    return model, log


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", required=True, help="a prepared NW-UCLA dataset (gltr prepare nwucla)")
    parser.add_argument("--benchmark", default="view", help="the dataset's benchmark (NW-UCLA: view)")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs per stream")
    parser.add_argument("--batch-size", type=int, default=64, help="clips per SGD step")
    parser.add_argument("--lr", type=float, default=0.05, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--width", type=int, default=16, help="channels of the first blocks (then x2, x4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, shard order and augmentation")
    parser.add_argument("--rotate", type=float, default=60.0, help="random rotation about the vertical axis, ± degrees "
                        "(60: chosen on the cross-view validation list over 0, 30 and 90)")
    parser.add_argument("--streams", default="joint,bone", help="comma-separated, from joint and bone: one model per "
                        "stream, their softmax scores summed (joint,bone, a two-stream ensemble: chosen on the "
                        "cross-view validation list over joint alone)")
    parser.add_argument("--validation", help="a file of training sample ids (gltr's data_manifests/validation/"
                        "nwucla_view-crossview.txt: all of view 2): train without them and score on them instead "
                        "of the test split")
    parser.add_argument("--out", default="runs/stgcn", help="folder for result.json")
    args = parser.parse_args()
    if not set(args.streams.split(",")) <= {"joint", "bone"}:
        raise SystemExit(f"--streams: joint and/or bone, not {args.streams!r}")
    started, cpu_started = time.perf_counter(), time.process_time()
    x_train, y_train, keys = load_split(args.data, args.benchmark, "train")
    if args.validation:                                               # choose a recipe here, never on the test split
        held = set(Path(args.validation).read_text().split())
        is_held = torch.tensor([k in held for k in keys])
        if not is_held.any():
            raise SystemExit(f"none of the ids in {args.validation} is in the training split")
        x_test, y_test = x_train[is_held], y_train[is_held]
        x_train, y_train = x_train[~is_held], y_train[~is_held]
    else:
        x_test, y_test, _ = load_split(args.data, args.benchmark, "test")
    scored = "validation" if args.validation else "test"
    scores, top1, log = 0, {}, []
    for stream in args.streams.split(","):
        model, stream_log = train(args, stream, x_train, y_train, cpu_started)
        p = probabilities(model, x_test)
        top1[stream] = 100.0 * (p.argmax(1) == y_test).float().mean().item()
        scores, log = scores + p, log + stream_log
    top1["ensemble"] = 100.0 * (scores.argmax(1) == y_test).float().mean().item()   # summed softmax scores
    final = top1["ensemble"]
    result = {"model": "ST-GCN", "width": args.width, "epochs": args.epochs, "seed": args.seed, "rotate": args.rotate,
              "streams": args.streams, "scored_on": scored,
              f"{scored}_top1_final_epoch": final, f"{scored}_top1_per_stream": top1,
              "train_samples": len(x_train), f"{scored}_samples": len(x_test),
              "parameters_per_stream": sum(p.numel() for p in model.parameters()),
              "wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu_started,
              "threads": torch.get_num_threads(), "log": log}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"{args.benchmark} {scored} top-1 {final:.1f} % (final epoch) after {result['wall_s'] / 60:.1f} minutes "
          f"({result['cpu_s'] / 60:.1f} CPU-minutes) -> {Path(args.out) / 'result.json'}")


if __name__ == "__main__":
    main()
