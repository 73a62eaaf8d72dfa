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
    from gltr.train.store_dataset import StoreDataset
    stored = StoreDataset(synth_ntu_prepared, "xsub", "train", arrays=("mpdp_direction", "mpdp_magnitude"))
    by_key = {s["key"]: s for s in (stored[i] for i in range(len(stored)))}
    loader = ShardLoader(synth_ntu_prepared, "xsub", "train", LoaderConfig(batch_size=8, workers=0))
    seen = 0
    for batch in loader.epoch(0):
        d, m = mpdp_labels(batch["motion"])                                  # batched, padded, as training does
        for b, (key, L) in enumerate(zip(batch["key"], batch["length"].tolist())):
            assert torch.equal(d[b, :L], torch.from_numpy(by_key[key]["mpdp_direction"]))
            assert torch.equal(m[b, :L], torch.from_numpy(by_key[key]["mpdp_magnitude"]))
            seen += 1
    assert seen == len(stored)


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


# ----------------------------------------------------------------------------- each stage on a plain list

def test_epoch_shards_and_split_by_worker():
    from gltr.train.data import epoch_shards, split_by_worker
    index = {"data": "http://host/d", "benchmark": "xsub",
             "shards": [{"name": f"train-{i:06d}.tar", "num_samples": n, "sha256": str(i), "bytes": 4096 * n}
                        for i, n in enumerate((3, 5, 2))]}
    plain = epoch_shards(index, seed=0, epoch=0, shuffle=False)
    assert [(s["url"], s["start"], s["sha256"]) for s in plain] == [
        ("http://host/d/shards/xsub/train-000000.tar", 0, "0"), ("http://host/d/shards/xsub/train-000001.tar", 3, "1"),
        ("http://host/d/shards/xsub/train-000002.tar", 8, "2")]
    shuffled = epoch_shards(index, seed=0, epoch=1, shuffle=True)
    assert shuffled == epoch_shards(index, seed=0, epoch=1, shuffle=True)                    # seeded
    assert sorted(s["sha256"] for s in shuffled) == ["0", "1", "2"]
    starts = {s["sha256"]: s["start"] for s in shuffled}                                     # offsets follow the order
    order = [s["sha256"] for s in shuffled]
    assert starts[order[0]] == 0 and starts[order[1]] == index["shards"][int(order[0])]["num_samples"]
    assert list(split_by_worker(list(range(7)), 1, 3)) == [1, 4]


def test_opened_numbered_split_by_node_and_as_sample(tmp_path):
    import hashlib
    import numpy as np
    from gltr.train.data import numbered, opened, split_by_node
    from gltr.train.decoders import as_sample
    good = b"some shard bytes"
    (tmp_path / "a.tar").write_bytes(good)
    shard = {"url": str(tmp_path / "a.tar"), "sha256": hashlib.sha256(good).hexdigest(), "bytes": len(good)}
    assert next(opened([shard]))["stream"].read() == good
    with pytest.raises(ValueError, match="a.tar: its size or sha256 differs from its index"):
        list(opened([{**shard, "sha256": "0" * 64}]))
    with pytest.raises(ValueError, match="a.tar: longer than the 5 bytes expected"):      # read no further than that
        list(opened([{**shard, "bytes": 5}]))
    samples = [{"__url__": u, "__key__": k} for u, k in (("s1", "a"), ("s1", "b"), ("s0", "c"), ("s0", "d"), ("s0", "e"))]
    assert [i for i, _ in numbered(samples, {"s0": 0, "s1": 3})] == [3, 4, 0, 1, 2]
    assert [s["__key__"] for s in split_by_node(numbered(samples, {"s0": 0, "s1": 3}), 1, 2)] == ["a", "d"]
    x = np.zeros((4, 1, 20, 3), np.float32)
    s = next(as_sample([{"__key__": "k", "__url__": "u", "motion.npy": x, "cls": 7}]))
    assert s["key"] == "k" and s["label"] == 7 and s["motion"] is x and "mpdp" not in s
    with pytest.raises(ValueError, match="sample 'k' in u: no cls member"):
        list(as_sample([{"__key__": "k", "__url__": "u", "motion.npy": x}]))


def test_shuffle_is_a_seeded_permutation():
    import numpy as np
    from gltr.train.data import shuffle
    a = list(shuffle(range(50), 10, np.random.default_rng(1)))
    assert sorted(a) == list(range(50)) and a != list(range(50))
    assert a == list(shuffle(range(50), 10, np.random.default_rng(1)))


def test_bucket_batches_sort_each_window_by_length():
    import numpy as np
    from gltr.train.data import bucket_batches
    samples = [{"motion": np.zeros((n, 1))} for n in (5, 1, 4, 2, 3, 6)]
    batches = list(bucket_batches(samples, 6, 3, window=3, rng=None))
    assert [[len(s["motion"]) for s in b] for b in batches] == [[1, 2], [3, 4], [5, 6]]
    with pytest.raises(RuntimeError, match="fewer samples"):
        list(bucket_batches(samples[:4], 6, 3, window=3, rng=None))


# ----------------------------------------------------------------------------- streaming over HTTP

def test_pretraining_streamed_over_http_sees_exactly_the_local_batches(synth_ntu_prepared, tmp_path):
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(synth_ntu_prepared)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/prepare.json", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        cfg = LoaderConfig(batch_size=8, workers=1, interpolation=True, shear=0.3)
        local = list(ShardLoader(synth_ntu_prepared, "xsub", "train", cfg).epoch(2))
        remote = list(ShardLoader(url, "xsub", "train", cfg).epoch(2))
        assert len(local) == len(remote) > 0
        for a, b in zip(local, remote):
            assert a["key"] == b["key"] and torch.equal(a["motion"], b["motion"])
        from gltr.train.pretrain import PretrainConfig, train
        runs = {}
        for name, data in (("local", str(synth_ntu_prepared)), ("http", url)):
            train(PretrainConfig(data=data, benchmark="xsub", out=str(tmp_path / name), preset="tiny", epochs=1,
                                 batch_size=8, lr=1e-3, workers=0, max_steps=3, log_every=1))
            runs[name] = [json.loads(l)["loss"] for l in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        assert runs["local"] == runs["http"] and len(runs["local"]) == 3
        from typer.testing import CliRunner
        from gltr.cli.main import app
        result = CliRunner().invoke(app, ["pretrain", "--data", url, "--benchmark", "xsub", "--preset", "tiny",
                                          "--max-steps", "1", "--workers", "0", "--out", str(tmp_path / "cli")])
        assert result.exit_code == 0, result.output
        assert json.loads((tmp_path / "cli/pretrain.json").read_text())["run_config"]["data"] == url
    finally:
        server.terminate()
        server.wait()


def test_gzip_members_are_bounded_and_old_plain_members_still_read(tmp_path):
    import gzip
    from gltr.pipeline.store import npy_bytes
    import numpy as np
    from gltr.train.decoders import NPY_MAX_BYTES, as_sample, decode, gunzipped
    x = np.arange(24, dtype=np.float32).reshape(2, 1, 4, 3)
    new = {"__key__": "k", "__url__": "u", "motion.npy.gz": gzip.compress(npy_bytes(x), mtime=0), "cls": b"1"}
    old = {"__key__": "k", "__url__": "u", "motion.npy": npy_bytes(x), "cls": b"1"}
    for s in (new, old):
        out = next(as_sample(decode(gunzipped([dict(s)])), (1, 4, 3), 8, 2))
        assert np.array_equal(out["motion"], x) and out["label"] == 1
    bomb = {"__key__": "k", "__url__": "u", "motion.npy.gz": gzip.compress(b"\0" * (NPY_MAX_BYTES + 10)), "cls": b"1"}
    with pytest.raises(ValueError, match="u: sample 'k': its motion.npy.gz member expands beyond 16 MB"):
        list(gunzipped([bomb]))
    cut = {"__key__": "k", "__url__": "u", "motion.npy.gz": new["motion.npy.gz"][:-9], "cls": b"1"}
    with pytest.raises(ValueError, match="not a whole gzip stream"):
        list(gunzipped([cut]))
