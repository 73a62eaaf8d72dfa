"""A prepared dataset opened once: `PreparedData` reads each of its JSON files and its manifest at most once
(round trips, when the data is over http), through the one contract (gltr.records: a bounded read, then
validation): prepare.json (the variant and the identity digest), each split's shard index (every field that
becomes a path, URL, command, allocation or loop bound) and manifest.parquet's split columns.

    data = PreparedData.open("data/nwucla")           # a local folder, or a URL prefix (http(s)://, pipe:)
    data.index("view", "train")["num_samples"], data.identity, data.names("view", "test")[:3]

Functions that take `data` take a location or an open handle (`PreparedData.open`): a handle is passed down,
a location is opened there.
"""
import io
from pathlib import Path

from gltr import fetch, records
from gltr.fetch import is_url, locate
from gltr.safety import check_name

MANIFEST_MAX_BYTES = 1 << 30        # manifest.parquet: ~2 MB for NTU-120


class PreparedData:
    """One prepared dataset (`str()` of it: where it is). Reads are made on first use and kept: a handle is a
    snapshot, so open a new one after the dataset is prepared again (the shards' sha256 would no longer match the
    kept indices, and loading fails saying so)."""

    def __init__(self, location):
        self.location = str(location)
        self._report, self._indices, self._names = None, {}, {}

    @classmethod
    def open(cls, data) -> "PreparedData":
        """`data` itself if it is a handle, else a new handle on the location."""
        return data if isinstance(data, PreparedData) else cls(data)

    def __str__(self) -> str:
        return self.location

    def __repr__(self) -> str:
        return f"PreparedData({self.location!r})"

    @property
    def report(self) -> records.PrepareReport:
        """prepare.json, validated."""
        if self._report is None:
            self._report = records.read(locate(self.location, "prepare.json"), records.PrepareReport)
        return self._report

    @property
    def identity(self) -> str:
        """The dataset's identity (records.PrepareReport.identity): what resume, feature caches, result files
        and `gltr report` compare."""
        return self.report.identity()

    def index(self, benchmark: str, split: str) -> dict:
        """The split's shard index JSON as a dict, its variant typed, plus "data" (where the dataset is) and
        "url" (where this JSON is). A caller gets its own copy of the top level."""
        if (benchmark, split) not in self._indices:
            self._indices[benchmark, split] = self._read_index(benchmark, split)
        return dict(self._indices[benchmark, split])

    def variant(self, benchmark: str):
        """The training split's variant (gltr.datasets.Variant): what the numbers were prepared with."""
        return self.index(benchmark, "train")["variant"]

    def names(self, benchmark: str, split: str) -> list[str]:
        """The sample ids of one benchmark split, from manifest.parquet (one bounded read for all splits)."""
        check_name(benchmark, "benchmark", "--benchmark")
        check_name(split, "split")
        if benchmark not in self._names:
            import pyarrow.parquet as pq
            manifest = pq.read_table(io.BytesIO(fetch.read(locate(self.location, "manifest.parquet"),
                                                           MANIFEST_MAX_BYTES)), columns=["sample_id", f"split_{benchmark}"])
            self._names[benchmark] = list(zip(manifest.column(0).to_pylist(), manifest.column(1).to_pylist()))
        return [i for i, s in self._names[benchmark] if s == split]

    def _benchmarks_text(self, benchmark: str) -> str:
        """Why a benchmark's index is missing, naming the benchmarks the dataset does have (from prepare.json)."""
        try:
            have = sorted(self.report.splits)
        except (OSError, ValueError):
            return f"{self.location} is not a prepared dataset (no readable prepare.json)"
        return f"{self.location} has no benchmark {benchmark!r}; it has {', '.join(have) or 'none'}"

    def _read_index(self, benchmark: str, split: str) -> dict:
        check_name(benchmark, "benchmark", "--benchmark")
        check_name(split, "split")
        url = locate(self.location, "shards", benchmark, f"{split}.json")
        if not is_url(self.location) and not Path(url).exists():
            raise FileNotFoundError(f"{url} not found: {self._benchmarks_text(benchmark)}")
        try:
            index = records.read(url, records.ShardIndex)
        except OSError as e:
            raise FileNotFoundError(f"{url} could not be read ({e}): {self._benchmarks_text(benchmark)}") from None
        if index.benchmark != benchmark or index.split != split:
            raise ValueError(f"{url} describes {index.benchmark}/{index.split}, not {benchmark}/{split}")
        return {**index.model_dump(exclude={"variant"}), "shards": [s.model_dump() for s in index.shards],
                "variant": index.variant, "data": self.location, "url": url}


def read_index(data, benchmark: str, split: str) -> dict:
    """A split's shard index (PreparedData.index) of a location or a handle: the public name (gltr.read_index)."""
    return PreparedData.open(data).index(benchmark, split)
