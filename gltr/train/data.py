"""Streaming input pipeline over the prepared WebDataset shards: a list of small generator stages,
webdataset's own where it has them.

    epoch_shards(index, seed, epoch)     the epoch's shard URLs (seeded shuffle) with global sample offsets
    -> split_by_worker                   DataLoader worker w reads shards w, w + n, ... (n workers)
    -> opened                            each shard read whole (local, http(s)://, pipe:; bounded by its size
                                         in the index and by a timeout: gltr.fetch) and its sha256 checked
    -> expanded (wds tar_file_expander), wds group_by_keys   tar members -> {"__key__", "motion.npy.gz": bytes, ...}
    -> numbered                          each sample's global index (shard offset + position)
    -> split_by_node                     rank r keeps global indices i with i % world == r, before decoding:
                                         every rank sees the whole shard sequence, so counts differ by at most 1
    -> gunzipped                         motion.npy.gz -> motion.npy, bounded (16 MB) and whole-stream checked
    -> decode (wds Decoder), as_sample   motion [L, P, K, 3] float32 and label, checked (the MPDP labels are not
                                         stored: the trainer computes them per batch from the augmented motion);
                                         these three, the hardened decoders, are gltr/train/decoders.py
    -> shuffle                           seeded shuffle buffer
    -> augment                           temporal interpolation, shear (pretraining)
    ---- DataLoader boundary: worker streams are interleaved round-robin, deterministically ----
    -> bucket_batches                    length-bucketed batches; exactly `num_batches` per rank per epoch
    -> collate                           padded to the batch's longest clip, with a frame mask

Every sample of the split is seen exactly once per epoch across all ranks, every rank yields
the same number of batches (DDP never waits on a finished rank), and (epoch, batch) is the whole
loader state: the epoch is rebuilt from its seeds and the first `batch` batches are skipped.
`--data` is a local folder or a URL prefix (http(s)://host/data, pipe:aws s3 cp s3://bucket/data/{} -):
the index JSON and the shards are opened the same way.
"""
import hashlib
import io
import itertools
import math
import tarfile
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from webdataset.tariterators import group_by_keys, tar_file_expander

from gltr import fetch
from gltr.datasets import LABEL, MOTION, MOTION_NPY
from gltr.fetch import locate
from gltr.train.augment import interpolate, shear
from gltr.train.decoders import as_sample, decode, gunzipped
from gltr.train.prepared import PreparedData


# ----------------------------------------------------------------------------- stages (workers)

def epoch_shards(index: dict, seed: int, epoch: int, shuffle: bool) -> list[dict]:
    """[{"url", "start": first global index, "sha256"}] in this epoch's order (seeded)."""
    shards = index["shards"]
    order = np.random.default_rng([seed, epoch]).permutation(len(shards)) if shuffle else np.arange(len(shards))
    start, out = 0, []
    for i in order:
        out.append({"url": locate(index["data"], "shards", index["benchmark"], shards[i]["name"]), "start": start,
                    "sha256": shards[i]["sha256"], "bytes": shards[i]["bytes"]})
        start += shards[i]["num_samples"]
    return out


def split_by_worker(shards, worker: int, workers: int):
    yield from shards[worker::workers]


def opened(shards):
    """Read each shard whole, at most the size its index gives (and within fetch's timeout), and check its
    sha256 before any sample is used (~0.009 ms per NW-UCLA sample at 1.8 GB/s): a changed shard never
    trains silently."""
    for shard in shards:
        data = fetch.read(shard["url"], shard["bytes"])
        if len(data) != shard["bytes"] or hashlib.sha256(data).hexdigest() != shard["sha256"]:
            raise ValueError(f"{shard['url']}: its size or sha256 differs from its index (corrupted or modified): "
                             f"run `gltr verify`")
        yield {"url": shard["url"], "stream": io.BytesIO(data)}


def expanded(sources):
    """webdataset's tar_file_expander, shard by shard: a tar it cannot read names its shard."""
    for source in sources:
        try:
            yield from tar_file_expander([source])
        except (tarfile.TarError, EOFError, ValueError) as e:
            raise ValueError(f"{source['url']}: not a readable tar file ({type(e).__name__}: {e})") from None


def numbered(samples, starts: dict):
    """(global index, sample): a shard's samples count on from the shard's offset in the split."""
    url, i = None, 0
    for sample in samples:
        if sample["__url__"] != url:
            url, i = sample["__url__"], starts[sample["__url__"]]
        yield i, sample
        i += 1


def split_by_node(samples, rank: int, world: int):
    for i, sample in samples:
        if i % world == rank:
            yield sample


def shuffle(samples, buffer: int, rng: np.random.Generator):
    pool = []
    for s in samples:
        pool.append(s)
        if len(pool) >= buffer:
            yield pool.pop(int(rng.integers(len(pool))))
    while pool:
        yield pool.pop(int(rng.integers(len(pool))))


def augment(samples, rng: np.random.Generator, t_max: int, centre: int, interpolation: bool, shear_amount: float):
    for s in samples:
        m = s["motion"]
        if interpolation:
            m = interpolate(m, rng, 0.1, t_max)
        if shear_amount:
            m = shear(m, rng, shear_amount, centre)
        yield {**s, "motion": m} if m is not s["motion"] else s


# ----------------------------------------------------------------------------- stages (main process)

def batch_sizes(count: int, num_batches: int) -> list[int]:
    """Split `count` samples into `num_batches` near-equal batch sizes."""
    return [count // num_batches + (1 if b < count % num_batches else 0) for b in range(num_batches)]


def bucket_batches(samples, count: int, num_batches: int, window: int, rng: np.random.Generator | None):
    """Exactly `num_batches` batches covering the `count` samples: each window of `window` batches'
    worth of samples is sorted by length and cut into batches (shuffled within the window when rng)."""
    sizes = batch_sizes(count, num_batches)
    it = iter(samples)
    for w in range(0, num_batches, window):
        chunk_sizes = sizes[w:w + window]
        pool = list(itertools.islice(it, sum(chunk_sizes)))
        if len(pool) < sum(chunk_sizes):
            raise RuntimeError("the shards hold fewer samples than their index JSON says: run `gltr verify`")
        pool.sort(key=lambda s: len(s["motion"]))
        batches, at = [], 0
        for n in chunk_sizes:
            batches.append(pool[at:at + n])
            at += n
        order = rng.permutation(len(batches)) if rng is not None else range(len(batches))
        for b in order:
            yield batches[b]
    if next(it, None) is not None:
        raise RuntimeError("the shards hold more samples than their index JSON says: run `gltr verify`")


def collate(batch: list, pad_multiple: int = 1, t_max: int | None = None) -> dict:
    """Pad to the batch's longest clip, rounded up to a multiple of `pad_multiple` (at most t_max: fewer distinct
    shapes for torch.compile; the mask keeps the padding inert): motion [B, T_b, P, K, 3], mask [B, T_b], label [B]."""
    lengths = [len(s["motion"]) for s in batch]
    T = max(lengths)
    T = min(-(-T // pad_multiple) * pad_multiple, max(T, t_max or T))
    P, K, _ = batch[0]["motion"].shape[1:]
    motion = np.zeros((len(batch), T, P, K, 3), np.float32)
    mask = np.zeros((len(batch), T), bool)
    for b, s in enumerate(batch):
        motion[b, :lengths[b]] = s["motion"]
        mask[b, :lengths[b]] = True
    out = {"motion": torch.from_numpy(motion), "mask": torch.from_numpy(mask),
           "label": torch.tensor([s["label"] for s in batch]), "key": [s["key"] for s in batch],
           "length": torch.tensor(lengths)}
    return out


# ----------------------------------------------------------------------------- the loader

@dataclass
class LoaderConfig:
    """How `ShardLoader` batches a split: batch size, worker processes, seeds and shuffling, the pretraining
    augmentations (temporal interpolation, shear amount), length bucketing, an optional sample-id subset and
    the frame padding multiple."""
    batch_size: int = 128
    workers: int = 2
    seed: int = 0
    shuffle: bool = True
    shuffle_buffer: int = 1000
    interpolation: bool = False
    shear: float = 0.0
    bucket_window: int = 8          # batches sorted by length together
    subset: frozenset | None = None  # keep only these sample ids (semi-supervised lists)
    pad_multiple: int = 1            # pad each batch's T up to a multiple of this (torch.compile: 8)


class _EpochStream(IterableDataset):
    """One rank's samples of one epoch, produced by the worker stages."""

    def __init__(self, index, cfg: LoaderConfig, epoch: int, rank: int, world: int, t_max: int, centre: int):
        self.index, self.cfg, self.epoch, self.rank, self.world = index, cfg, epoch, rank, world
        self.t_max, self.centre = t_max, centre

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, self.epoch, self.rank, worker])
        members = {MOTION, MOTION_NPY, LABEL}
        shards = epoch_shards(self.index, cfg.seed, self.epoch, cfg.shuffle)
        stream = split_by_worker(shards, worker, workers)
        stream = opened(stream)
        stream = expanded(stream)
        stream = group_by_keys(stream, suffixes=members)
        stream = numbered(stream, {s["url"]: s["start"] for s in shards})
        stream = split_by_node(stream, self.rank, self.world)
        if cfg.subset is not None:
            stream = (s for s in stream if s["__key__"] in cfg.subset)
        stream = decode(gunzipped(stream))
        variant = self.index["variant"]
        stream = as_sample(stream, (variant.persons, variant.joints, 3), variant.t_max, self.index["num_classes"])
        if cfg.shuffle:
            stream = shuffle(stream, cfg.shuffle_buffer, rng)
        stream = augment(stream, rng, self.t_max, self.centre, cfg.interpolation, cfg.shear)
        return stream


def _as_is(sample):
    """DataLoader would turn the samples' numpy arrays into tensors; keep them as they are."""
    return sample


class ShardLoader:
    """Batches of one benchmark split for one rank; `epoch(e, skip)` is deterministic."""

    def __init__(self, data, benchmark: str, split: str, cfg: LoaderConfig, rank: int = 0, world: int = 1):
        self.data = PreparedData.open(data)                        # a location or an open handle
        self.index = self.data.index(benchmark, split)
        self.cfg, self.rank, self.world = cfg, rank, world
        variant = self.index["variant"]
        self.t_max, self.centre = variant.t_max, variant.centre_joint
        if cfg.subset is None:
            ids = range(self.index["num_samples"])
            self.count = len(ids[rank::world])                       # samples on this rank
            total = self.index["num_samples"]
        else:
            self.count, total = self._subset_count()
        if total == 0:
            raise ValueError(f"{self.index['url']}: the {split} split of benchmark {benchmark} holds no sample"
                             + (" of the requested list" if cfg.subset is not None else "")
                             + ": nothing to train or evaluate on (see the prepare report's counts)")
        if total < world:
            raise ValueError(f"{self.index['url']}: {total} sample(s) for {world} processes; "
                             f"every process needs at least one")
        # every rank holds at least total // world samples: that many fill num_batches non-empty batches
        self.num_batches = max(1, math.ceil((total // world) / cfg.batch_size))

    def _subset_count(self) -> tuple[int, int]:
        """(samples on this rank, in all) of the subset that this split holds, from manifest.parquet."""
        if self.world > 1:
            raise ValueError("sample subsets (semi-supervised lists) run on one process")
        names = self.data.names(self.index["benchmark"], self.index["split"])
        total = sum(1 for i in names if i in self.cfg.subset)
        return total, total

    def __len__(self) -> int:
        return self.num_batches

    def epoch(self, epoch: int, skip: int = 0):
        """Yield the epoch's batches (collated), after skipping the first `skip`."""
        stream = _EpochStream(self.index, self.cfg, epoch, self.rank, self.world, self.t_max, self.centre)
        workers = min(self.cfg.workers, len(self.index["shards"]))
        samples = DataLoader(stream, batch_size=None, num_workers=workers, collate_fn=_as_is) if workers > 0 else stream
        rng = np.random.default_rng([self.cfg.seed, epoch, self.rank, 1 << 16]) if self.cfg.shuffle else None
        batches = bucket_batches(samples, self.count, self.num_batches, self.cfg.bucket_window, rng)
        for b, batch in enumerate(batches):
            if b >= skip:
                yield collate(batch, self.cfg.pad_multiple, self.t_max)
