"""The hardened decoders of a shard's members: bytes from an untrusted tar -> a checked sample, or an error
naming the shard and the sample (gltr.train.data's worker stages `gunzipped`, `decode`, `as_sample`). A
crafted member can neither make numpy allocate more than it holds nor fill the memory by decompression."""
import io
import math
import zlib

import numpy as np
from webdataset.autodecode import Decoder, DecodingError

from gltr.datasets import LABEL, MOTION_NPY


def npy_fits(data: bytes) -> bool:
    """True if a .npy member's header declares exactly as many bytes as follow it (checked before decoding:
    a crafted shape must not make numpy allocate more than the member holds)."""
    try:
        stream = io.BytesIO(data)
        version = np.lib.format.read_magic(stream)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        shape, fortran, dtype = read_header[version](stream)
    except (ValueError, TypeError, SyntaxError, EOFError, KeyError):
        return False
    return not dtype.hasobject and math.prod(shape) * dtype.itemsize == len(data) - stream.tell()


NPY_MAX_BYTES = 16 << 20            # a decompressed array member: an NTU motion at T_max is 180 kB


def gunzipped(samples):
    """.npy.gz members -> .npy bytes (older shards hold plain .npy members already);
    decompression stops past NPY_MAX_BYTES, so a crafted member cannot fill the memory."""
    for s in samples:
        for key in [k for k in s if k.endswith(".npy.gz")]:
            data = s.pop(key)
            try:
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                raw = inflater.decompress(data, NPY_MAX_BYTES + 1) if isinstance(data, bytes) else b""
                whole = isinstance(data, bytes) and inflater.eof and not inflater.unused_data
            except zlib.error:
                raw, whole = b"", False
            if len(raw) > NPY_MAX_BYTES:
                raise ValueError(f"{s['__url__']}: sample {s['__key__']!r}: its {key} member expands beyond "
                                 f"{NPY_MAX_BYTES >> 20} MB")
            if not whole:
                raise ValueError(f"{s['__url__']}: sample {s['__key__']!r}: its {key} member is not a whole gzip stream")
            s[key[:-3]] = raw
        yield s


def decode(samples):
    """webdataset's Decoder (.npy -> array, cls -> int); a member that does not decode names its shard and sample."""
    decoder = Decoder([])
    for s in samples:
        bad = [k for k, v in s.items() if k.endswith(".npy") and not (isinstance(v, bytes) and npy_fits(v))]
        if bad:
            raise ValueError(f"{s['__url__']}: sample {s['__key__']!r}: its {bad[0]} member is not a whole .npy array")
        try:
            yield decoder(s)
        except DecodingError as e:
            raise ValueError(f"{e.url}: sample {e.key!r}: its {e.k} member does not decode ({e.__cause__})") from None


def as_sample(samples, shape: tuple | None = None, t_max: int | None = None, num_classes: int | None = None):
    """webdataset-decoded members -> {"key", "motion", "label"}. A sample lacking a member, or (given the
    split's `shape` (P, K, 3), `t_max`, `num_classes`) whose motion is not float32 [1..t_max, P, K, 3] and finite,
    or whose label is out of range, is an error naming it: garbage never trains silently."""
    for s in samples:
        missing = {MOTION_NPY, LABEL} - set(s)
        if missing:
            raise ValueError(f"sample {s['__key__']!r} in {s['__url__']}: no {', '.join(sorted(missing))} member")
        motion, label = s[MOTION_NPY], s[LABEL]
        if shape is not None:
            ok = (isinstance(motion, np.ndarray) and motion.dtype == np.float32 and motion.ndim == 4
                  and tuple(motion.shape[1:]) == tuple(shape) and 1 <= len(motion) <= t_max)
            if not ok or not np.isfinite(motion).all():
                got = f"{motion.dtype} {list(motion.shape)}" if isinstance(motion, np.ndarray) else type(motion).__name__
                raise ValueError(f"sample {s['__key__']!r} in {s['__url__']}: its motion is {got}"
                                 + ("" if ok else f", not float32 [1..{t_max}, {', '.join(map(str, shape))}]")
                                 + ("" if not ok or np.isfinite(motion).all() else " with non-finite values"))
            if type(label) is not int or not 0 <= label < num_classes:
                raise ValueError(f"sample {s['__key__']!r} in {s['__url__']}: label {label!r} is not a class "
                                 f"0..{num_classes - 1}")
        out = {"key": s["__key__"], "motion": motion, "label": int(label)}
        yield out
