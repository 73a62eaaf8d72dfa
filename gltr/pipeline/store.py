"""Streaming writers: the Zarr v3 store (frames of all samples, concatenated) and the WebDataset shards.

Both take one sample at a time and hold at most one chunk / one shard member in memory.
"""
import gzip
import hashlib
import io
import json
import tarfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import zarr

from gltr.datasets import LABEL, META, MOTION

FRAME_CHUNK = 8192


class FrameArray:
    """A Zarr array growing along axis 0, written in whole chunks (no read-modify-write).

    Chunks are compressed and written by one background thread, in order, so the caller goes on
    parsing meanwhile; at most two chunks wait in memory.
    """

    def __init__(self, group, name: str, tail: tuple, dtype, dims: tuple, writer: ThreadPoolExecutor):
        self.array = group.create_array(name, shape=(0, *tail), chunks=(FRAME_CHUNK, *tail), dtype=dtype,
                                        dimension_names=("frame", *dims))
        self.pending, self.pending_frames, self.written = [], 0, 0
        self.writer, self.in_flight = writer, deque()

    def append(self, x: np.ndarray) -> None:
        self.pending.append(x)
        self.pending_frames += len(x)
        if self.pending_frames >= FRAME_CHUNK:
            self._flush(whole_chunks_only=True)

    def _flush(self, whole_chunks_only: bool) -> None:
        block = np.concatenate(self.pending) if self.pending else None
        n = self.pending_frames - (self.pending_frames % FRAME_CHUNK if whole_chunks_only else 0)
        if n:
            while len(self.in_flight) >= 2:
                self.in_flight.popleft().result()
            self.in_flight.append(self.writer.submit(self._write, self.written, block[:n]))
            self.written += n
        self.pending = [block[n:]] if block is not None and n < len(block) else []
        self.pending_frames = len(self.pending[0]) if self.pending else 0

    def _write(self, start: int, block: np.ndarray) -> None:
        self.array.resize((start + len(block), *self.array.shape[1:]))
        self.array[start:start + len(block)] = block

    def close(self) -> None:
        self._flush(whole_chunks_only=False)
        while self.in_flight:
            self.in_flight.popleft().result()


class StoreWriter:
    """store.zarr: joints, motion, mpdp_direction, mpdp_magnitude [F, ...] and offsets [N + 1]."""

    def __init__(self, path: Path, variant):
        P, K, I = variant.persons, variant.joints, len(variant.intervals)
        self.group = zarr.open_group(path, mode="w")
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="zarr-writer")
        point, label = ("person", "joint", "coord"), ("interval", "person", "joint")
        self.arrays = {
            "joints": FrameArray(self.group, "joints", (P, K, 3), "float32", point, self.writer),
            "motion": FrameArray(self.group, "motion", (P, K, 3), "float32", point, self.writer),
            "mpdp_direction": FrameArray(self.group, "mpdp_direction", (I, P, K), "uint8", label, self.writer),
            "mpdp_magnitude": FrameArray(self.group, "mpdp_magnitude", (I, P, K), "uint8", label, self.writer),
        }
        self.offsets = [0]

    def append(self, sample) -> int:
        """Add one sample; return its frame offset."""
        self.arrays["joints"].append(sample.joints)
        self.arrays["motion"].append(sample.motion)
        self.arrays["mpdp_direction"].append(sample.direction)
        self.arrays["mpdp_magnitude"].append(sample.magnitude)
        self.offsets.append(self.offsets[-1] + len(sample.motion))
        return self.offsets[-2]

    def close(self, attrs: dict) -> None:
        for a in self.arrays.values():
            a.close()
        self.writer.shutdown()
        self.group.create_array("offsets", data=np.asarray(self.offsets, np.int64), dimension_names=("sample",))
        self.group.attrs.update(attrs)


def npy_bytes(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x, allow_pickle=False)
    return buf.getvalue()


def npy_gz_bytes(x: np.ndarray) -> bytes:
    """x as a gzip-compressed .npy: level 1 (nearly level 6's size on this data at a fraction of its time),
    no time stamp, so the same sample always gives the same bytes."""
    return gzip.compress(npy_bytes(x), compresslevel=1, mtime=0)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def require_prepared(data) -> Path:
    """`data` as a Path, or FileNotFoundError if it lacks a prepared dataset's manifest.parquet and store.zarr."""
    data = Path(data)
    if not (data / "manifest.parquet").is_file() or not (data / "store.zarr").is_dir():
        raise FileNotFoundError(f"{data} is not a prepared dataset (no manifest.parquet / store.zarr)")
    return data


BLOCK, RECORD = 512, 10240   # tar block and record sizes


def tar_bytes(key: str, members: dict) -> bytes:
    """The bytes of one sample's tar members (header + data + padding each), position-independent.

    Headers carry no time, user or group, so the same sample always gives the same bytes; the
    workers build these and the writer only concatenates them.
    """
    out = []
    for ext, data in members.items():
        info = tarfile.TarInfo(f"{key}.{ext}")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        out += [info.tobuf(format=tarfile.USTAR_FORMAT), data, b"\0" * (-len(data) % BLOCK)]
    return b"".join(out)


class ShardWriter:
    """<dir>/<split>-NNNNNN.tar WebDataset shards plus <dir>/<split>.json (shards, counts, sha256)."""

    def __init__(self, directory: Path, split: str, shard_size: int):
        self.dir, self.split, self.shard_size = directory, split, shard_size
        self.dir.mkdir(parents=True, exist_ok=True)
        self.file, self.count, self.shards = None, 0, []

    def write(self, blob: bytes) -> None:
        """Append one sample's tar members (from `tar_bytes`)."""
        if self.file is None or self.count == self.shard_size:
            self._close_shard()
            name = f"{self.split}-{len(self.shards):06d}.tar"
            self.shards.append({"name": name, "num_samples": 0})
            self.file, self.hash, self.size = open(self.dir / name, "wb"), hashlib.sha256(), 0
            self.count = 0
        self._put(blob)
        self.count += 1
        self.shards[-1]["num_samples"] += 1

    def _put(self, data: bytes) -> None:
        self.file.write(data)
        self.hash.update(data)
        self.size += len(data)

    def _close_shard(self) -> None:
        if self.file is not None:
            end = self.size + 2 * BLOCK                       # two zero blocks end a tar archive,
            self._put(b"\0" * (2 * BLOCK + (-end % RECORD)))   # padded to a whole record like tarfile
            self.file.close()
            self.shards[-1].update(bytes=self.size, sha256=self.hash.hexdigest())
            self.file = None

    def close(self, info: dict) -> dict:
        self._close_shard()
        index = {**info, "split": self.split, "num_samples": sum(s["num_samples"] for s in self.shards),
                 "shards": self.shards}
        (self.dir / f"{self.split}.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
        return index


def sample_members(sample, label: int, meta: dict) -> dict:
    """The WebDataset members of one sample: motion.npy.gz, cls, json (the MPDP labels live in store.zarr)."""
    return {
        MOTION: npy_gz_bytes(sample.motion),                          # [L, P, K, 3] float32
        LABEL: str(label).encode(),
        META: json.dumps(meta, sort_keys=True).encode(),
    }
