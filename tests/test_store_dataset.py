"""The map-style Dataset over store.zarr: the samples the shards hold, by index, in worker processes too."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from gltr.pipeline.mpdp import mpdp_labels
from gltr.train.data import LoaderConfig, ShardLoader
from gltr.train.store_dataset import StoreDataset


def test_samples_equal_the_shards_and_the_split(synth_ntu_prepared):
    ds = StoreDataset(synth_ntu_prepared, "xsub", "test", arrays=("motion", "joints", "mpdp_direction"))
    loader = ShardLoader(synth_ntu_prepared, "xsub", "test", LoaderConfig(batch_size=1, workers=0, shuffle=False))
    streamed = {b["key"][0]: (b["motion"][0].numpy(), int(b["label"][0])) for b in loader.epoch(0)}
    assert len(ds) == len(streamed) == loader.index["num_samples"]
    for i in range(len(ds)):
        s = ds[i]
        motion, label = streamed[s["key"]]
        assert np.array_equal(s["motion"], motion) and s["label"] == label
        assert np.array_equal(s["mpdp_direction"], mpdp_labels(torch.from_numpy(motion))[0].numpy())
        assert s["joints"].shape == s["motion"].shape and s["motion"].dtype == np.float32
    everything = StoreDataset(synth_ntu_prepared)
    train = StoreDataset(synth_ntu_prepared, "xsub", "train")
    assert len(everything) == len(ds) + len(train) and not set(ds.keys) & set(train.keys)


def random_window(sample: dict, frames: int = 16, rng=np.random.default_rng(0)) -> torch.Tensor:
    """The README's example: a random window of `frames` frames (zero-padded when shorter)."""
    x = sample["motion"]
    start = rng.integers(0, max(len(x) - frames, 0) + 1)
    out = np.zeros((frames, *x.shape[1:]), np.float32)
    out[:len(x[start:start + frames])] = x[start:start + frames]
    return torch.from_numpy(out)


def test_random_windows_through_dataloader_workers(synth_ntu_prepared):
    ds = StoreDataset(synth_ntu_prepared, "xsub", "train", arrays=("motion",))
    loader = DataLoader(ds, batch_size=8, shuffle=True, num_workers=2,
                        collate_fn=lambda batch: (torch.stack([random_window(s) for s in batch]),
                                                  torch.tensor([s["label"] for s in batch])))
    seen = 0
    for x, y in loader:
        assert x.shape[1:] == (16, 2, 25, 3) and len(y) == len(x)
        seen += len(x)
    assert seen == len(ds)


def test_bad_requests_name_the_problem(synth_ntu_prepared, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a prepared dataset"):
        StoreDataset(tmp_path)
    with pytest.raises(ValueError, match="no benchmark 'view'"):
        StoreDataset(synth_ntu_prepared, "view", "train")
    with pytest.raises(ValueError, match="unknown arrays"):
        StoreDataset(synth_ntu_prepared, arrays=("pixels",))
