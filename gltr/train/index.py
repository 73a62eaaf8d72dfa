"""A prepared dataset's JSON files, read bounded and checked: the split's shard index (every field that becomes
a path, URL, command, allocation or loop bound) and prepare.json. Local folders and URL prefixes alike."""
import json
from pathlib import Path

from gltr.datasets import Variant
from gltr.safety import check_name
from gltr import fetch
from gltr.fetch import is_url, locate

INDEX_MAX_BYTES = 64 << 20          # an index JSON: a few hundred shards, a few hundred bytes each
REPORT_MAX_BYTES = 256 << 20        # prepare.json: every failed file of a 114k-file tree is well below this
SHARD_MAX_BYTES = 64 << 30
MIN_SAMPLE_BYTES = 1024             # a sample is at least two tar members: two 512-byte headers


def read_json(where: str, limit: int) -> dict:
    """A JSON object from a local file or URL, bounded; an error names the file."""
    try:
        value = json.loads(fetch.read(where, limit))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where}: not a JSON object")
    return value


def _count(value, low: int, high: int, what: str, where: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{where}: {what} {value!r} is not a whole number in [{low}, {high:,}]")
    return value


def check_index(index: dict, where: str) -> None:
    """Every field of a shard index that becomes a path, URL, command, allocation or loop bound, checked
    before any of it is used: shard names, counts, sizes, hashes."""
    shards = index.get("shards")
    if not isinstance(shards, list) or len(shards) > 1_000_000:
        raise ValueError(f"{where}: 'shards' is not a list of shards")
    total = 0
    for s in shards:
        if not isinstance(s, dict):
            raise ValueError(f"{where}: a shard entry is not an object")
        check_name(s.get("name"), "shard", where)
        size = _count(s.get("bytes"), MIN_SAMPLE_BYTES, SHARD_MAX_BYTES, f"shard {s['name']} bytes", where)
        total += _count(s.get("num_samples"), 0, size // MIN_SAMPLE_BYTES, f"shard {s['name']} num_samples", where)
        sha = s.get("sha256")
        if not isinstance(sha, str) or len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
            raise ValueError(f"{where}: shard {s['name']} has no valid sha256")
    if index.get("num_samples") != total:
        raise ValueError(f"{where}: num_samples {index.get('num_samples')!r} is not the sum of its shards' ({total})")
    _count(index.get("num_classes"), 1, 10_000, "num_classes", where)


def benchmarks_text(data, benchmark: str) -> str:
    """Why a benchmark's index is missing, naming the benchmarks the dataset does have (from its prepare.json)."""
    try:
        have = sorted(read_json(locate(data, "prepare.json"), REPORT_MAX_BYTES)["splits"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"{data} is not a prepared dataset (no readable prepare.json)"
    return f"{data} has no benchmark {benchmark!r}; it has {', '.join(have) or 'none'}"


def read_index(data, benchmark: str, split: str) -> dict:
    """The split's shard index JSON (local file or URL) with its variant typed, plus "data" (where the dataset
    is) and "url" (where this JSON is)."""
    check_name(benchmark, "benchmark", "--benchmark")
    check_name(split, "split")
    url = locate(data, "shards", benchmark, f"{split}.json")
    if not is_url(data) and not Path(url).exists():
        raise FileNotFoundError(f"{url} not found: {benchmarks_text(data, benchmark)}")
    try:
        index = read_json(url, INDEX_MAX_BYTES)
    except OSError as e:
        raise FileNotFoundError(f"{url} could not be read ({e}): {benchmarks_text(data, benchmark)}") from None
    if index.get("benchmark") != benchmark or index.get("split") != split:
        raise ValueError(f"{url} describes {index.get('benchmark')}/{index.get('split')}, not {benchmark}/{split}")
    check_index(index, url)
    index["data"], index["url"] = str(data), url
    index["variant"] = Variant.from_dict(index.get("variant"), url)
    if index.get("dataset") != index["variant"].dataset:
        raise ValueError(f"{url}: dataset {index.get('dataset')!r} is not its variant's {index['variant'].dataset!r}")
    return index
