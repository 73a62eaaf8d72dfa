"""Random access to a prepared dataset: a map-style PyTorch `Dataset` over store.zarr (stock zarr and pyarrow).

    ds = StoreDataset("data/nwucla", benchmark="view", split="train")
    sample = ds[3]          # {"key", "label", "motion": [L, P, K, 3] float32, "joints": [L, P, K, 3] float32}

Sample i of a split is rows offsets[j]:offsets[j+1] of the store's frame arrays, j its row in
manifest.parquet. For models that crop random windows instead of streaming whole clips (the
shards are the streaming path); works with DataLoader workers (each opens the store itself).
"""
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import zarr
from torch.utils.data import Dataset

ARRAYS = ("motion", "joints", "mpdp_direction", "mpdp_magnitude")


class StoreDataset(Dataset):
    def __init__(self, data, benchmark: str | None = None, split: str | None = None, arrays: tuple = ("motion", "joints")):
        self.root = Path(data)
        if not (self.root / "manifest.parquet").is_file() or not (self.root / "store.zarr").is_dir():
            raise FileNotFoundError(f"{self.root} is not a prepared dataset (no manifest.parquet / store.zarr)")
        if unknown := set(arrays) - set(ARRAYS):
            raise ValueError(f"unknown arrays {sorted(unknown)}; the store holds {', '.join(ARRAYS)}")
        if (benchmark is None) != (split is None):
            raise ValueError("give both benchmark and split (or neither, for every sample)")
        columns = ["sample_id", "label", "offset", "length"] + ([f"split_{benchmark}"] if benchmark else [])
        names = pq.read_schema(self.root / "manifest.parquet").names
        if benchmark and f"split_{benchmark}" not in names:
            raise ValueError(f"{self.root}: no benchmark {benchmark!r} (has "
                             f"{', '.join(n[6:] for n in names if n.startswith('split_'))})")
        m = pq.read_table(self.root / "manifest.parquet", columns=columns).to_pydict()
        keep = [i for i in range(len(m["sample_id"])) if not benchmark or m[f"split_{benchmark}"][i] == split]
        self.keys = [m["sample_id"][i] for i in keep]
        self.labels = np.asarray([m["label"][i] for i in keep], np.int64)
        self.offsets = np.asarray([m["offset"][i] for i in keep], np.int64)
        self.lengths = np.asarray([m["length"][i] for i in keep], np.int64)
        self.arrays, self._store = tuple(arrays), None

    def __len__(self) -> int:
        return len(self.keys)

    def store(self):
        """The Zarr group, opened on first use in each process (DataLoader workers open their own)."""
        if self._store is None:
            self._store = zarr.open_group(self.root / "store.zarr", mode="r")
        return self._store

    def __getitem__(self, i: int) -> dict:
        a, b = self.offsets[i], self.offsets[i] + self.lengths[i]
        group = self.store()
        return {"key": self.keys[i], "label": int(self.labels[i]), **{name: group[name][a:b] for name in self.arrays}}

    def __getstate__(self):
        return {**self.__dict__, "_store": None}
