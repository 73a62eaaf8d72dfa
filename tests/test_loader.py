from collections import Counter

import pyarrow.parquet as pq
import pytest
import torch

from gltr.pipeline.mpdp import mpdp_labels
from gltr.train.data import LoaderConfig, ShardLoader, batch_sizes


def train_ids(prepared, benchmark="xsub"):
    m = pq.read_table(prepared / "manifest.parquet").to_pydict()
    return sorted(i for i, s in zip(m["sample_id"], m[f"split_{benchmark}"]) if s == "train")


def keys(batches):
    return [k for b in batches for k in b["key"]]


def test_without_augmentation_recomputed_labels_equal_the_stored_ones(synth_ntu_prepared):
    loader = ShardLoader(synth_ntu_prepared, "xsub", "train", LoaderConfig(batch_size=8, workers=0))
    for batch in loader.epoch(0):
        d, m = mpdp_labels(batch["motion"])
        for b, L in enumerate(batch["length"].tolist()):
            assert torch.equal(d[b, :L], batch["mpdp"][b, :L, ..., 0])
            assert torch.equal(m[b, :L], batch["mpdp"][b, :L, ..., 1])


@pytest.mark.parametrize("workers", [0, 2])
def test_each_sample_once_per_epoch_and_batches_padded_to_their_longest(synth_ntu_prepared, workers):
    cfg = LoaderConfig(batch_size=8, workers=workers, interpolation=True, shear=0.3, shuffle_buffer=10)
    loader = ShardLoader(synth_ntu_prepared, "xsub", "train", cfg)
    for epoch in (0, 1):
        batches = list(loader.epoch(epoch))
        assert len(batches) == len(loader)
        assert sorted(keys(batches)) == train_ids(synth_ntu_prepared)
        for b in batches:
            assert b["motion"].shape[1] == b["length"].max() and len(b["key"]) <= 8
            assert b["mask"].sum(1).tolist() == b["length"].tolist()
    assert keys(loader.epoch(0)) != keys(loader.epoch(1))               # reshuffled per epoch


def test_ranks_split_the_epoch_exactly_with_equal_batch_counts(synth_ntu_prepared):
    for world in (2, 3):
        loaders = [ShardLoader(synth_ntu_prepared, "xsub", "train", LoaderConfig(batch_size=4, workers=0), r, world)
                   for r in range(world)]
        per_rank = [list(l.epoch(1)) for l in loaders]
        assert len({len(b) for b in per_rank}) == 1                      # same number of batches everywhere
        seen = Counter(k for batches in per_rank for k in keys(batches))
        assert sorted(seen) == train_ids(synth_ntu_prepared) and set(seen.values()) == {1}


def test_resume_skips_to_the_identical_next_batches(synth_ntu_prepared):
    cfg = LoaderConfig(batch_size=8, workers=0, interpolation=True, shear=0.3, shuffle_buffer=10)
    full = list(ShardLoader(synth_ntu_prepared, "xsub", "train", cfg).epoch(3))
    resumed = list(ShardLoader(synth_ntu_prepared, "xsub", "train", cfg).epoch(3, skip=2))
    assert len(resumed) == len(full) - 2
    for a, b in zip(full[2:], resumed):
        assert a["key"] == b["key"] and torch.equal(a["motion"], b["motion"])


def test_subset_keeps_only_listed_samples(synth_ntu_prepared):
    ids = train_ids(synth_ntu_prepared)[::3]
    loader = ShardLoader(synth_ntu_prepared, "xsub", "train", LoaderConfig(batch_size=4, workers=0, subset=frozenset(ids)))
    assert sorted(keys(loader.epoch(0))) == ids


def test_batch_sizes_cover_the_count():
    for count, n in [(10, 3), (64, 1), (65, 2), (7, 7)]:
        sizes = batch_sizes(count, n)
        assert sum(sizes) == count and len(sizes) == n and max(sizes) - min(sizes) <= 1
