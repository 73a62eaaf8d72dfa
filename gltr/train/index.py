"""A prepared dataset's JSON files, read through the one contract (gltr.records: bounded, then validated):
the split's shard index (every field that becomes a path, URL, command, allocation or loop bound) and
prepare.json, whose identity names the dataset. Local folders and URL prefixes alike."""
from pathlib import Path

from gltr import records
from gltr.fetch import is_url, locate
from gltr.safety import check_name


def read_prepare(data) -> records.PrepareReport:
    """The dataset's prepare.json, validated."""
    return records.read(locate(data, "prepare.json"), records.PrepareReport)


def identity(data) -> str:
    """The dataset's identity (records.PrepareReport.identity): what resume, feature caches, result files and
    `gltr report` compare."""
    return read_prepare(data).identity()


def benchmarks_text(data, benchmark: str) -> str:
    """Why a benchmark's index is missing, naming the benchmarks the dataset does have (from its prepare.json)."""
    try:
        have = sorted(read_prepare(data).splits)
    except (OSError, ValueError):
        return f"{data} is not a prepared dataset (no readable prepare.json)"
    return f"{data} has no benchmark {benchmark!r}; it has {', '.join(have) or 'none'}"


def read_index(data, benchmark: str, split: str) -> dict:
    """The split's shard index JSON (local file or URL) as a dict, its variant typed, plus "data" (where the
    dataset is) and "url" (where this JSON is)."""
    check_name(benchmark, "benchmark", "--benchmark")
    check_name(split, "split")
    url = locate(data, "shards", benchmark, f"{split}.json")
    if not is_url(data) and not Path(url).exists():
        raise FileNotFoundError(f"{url} not found: {benchmarks_text(data, benchmark)}")
    try:
        index = records.read(url, records.ShardIndex)
    except OSError as e:
        raise FileNotFoundError(f"{url} could not be read ({e}): {benchmarks_text(data, benchmark)}") from None
    if index.benchmark != benchmark or index.split != split:
        raise ValueError(f"{url} describes {index.benchmark}/{index.split}, not {benchmark}/{split}")
    return {**index.model_dump(exclude={"variant"}), "shards": [s.model_dump() for s in index.shards], "variant": index.variant,
            "data": str(data), "url": url}
