"""Every JSON file and checkpoint meta gltr reads, under one contract: a bounded read (a regular local file, an
http(s) URL or a pipe: command, through gltr.fetch), then validation against the file's declared schema
(pydantic, strict: "8" is not 8, true is not 1, NaN is not a number). A file that fails is one line naming it
and the field: `<file>: <field>: <why>`.

    read(where, PrepareReport)      prepare.json                      (limit: LIMITS)
    read(where, ShardIndex)         shards/<benchmark>/<split>.json
    read(where, PretrainRecord)     a run's pretrain.json
    read(where, EvalResult)         a run's eval/*.json
    read(where, ExportRecord)       gltr-export.json
    read(where, CheckpointMirror)   a checkpoint's readable mirror <name>.json
    read(where, ListIndex)          index.json of a folder of sample lists
    read_lines(where, MetricsLine)  a run's metrics.jsonl, one record a line
    check(value, CheckpointMeta, where)   the meta inside a loaded checkpoint

A schema checks what gltr uses (types, ranges, names that become paths, sizes that become allocations); other
fields pass through untouched, so a file written by a newer gltr stays readable. Torch-free.
"""
import hashlib
import json
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, RootModel, StringConstraints,
                      ValidationError, model_validator)

from gltr import fetch
from gltr.datasets import DATASETS, Variant
from gltr.safety import check_name

# ----------------------------------------------------------------------------- field types

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=10 ** 12)]
Percent = Annotated[float, Field(ge=0, le=100)]
BenchmarkName = Annotated[str, PlainValidator(lambda name: check_name(name, "benchmark"))]   # gltr.safety.NAMES
ShardName = Annotated[str, PlainValidator(lambda name: check_name(name, "shard"))]


def _relative(path: str) -> str:
    if any(part in (".", "..") for part in path.split("/")):
        raise ValueError(f"{path!r} leaves its folder")
    return path


RelPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$", max_length=500),
                    AfterValidator(_relative)]                       # relative, inside its folder, ASCII only


def _dataset(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r} (gltr knows {', '.join(DATASETS)})")
    return name


DatasetName = Annotated[str, AfterValidator(_dataset)]


def _variant(value) -> Variant:
    if isinstance(value, Variant):
        return value
    return Variant.from_dict(value)              # the record names the file and the field


VariantField = Annotated[Variant, PlainValidator(_variant)]


class Record(BaseModel):
    """Strict types, finite numbers; fields a schema does not name pass through."""
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False, arbitrary_types_allowed=True,
                              protected_namespaces=())


# ----------------------------------------------------------------------------- a prepared dataset

class SplitCounts(Record):
    train: Count
    test: Count


class PrepareReport(Record):
    """prepare.json: what `gltr prepare` made, with the sha256 of every file it wrote."""
    dataset: DatasetName
    raw: str | None = None
    variant: VariantField
    counts: dict[str, Count] = {}
    splits: dict[BenchmarkName, SplitCounts]
    files: dict[RelPath, Sha256]
    failed: list = []

    @model_validator(mode="after")
    def _consistent(self):
        if self.variant.dataset != self.dataset:
            raise ValueError(f"dataset {self.dataset!r} is not its variant's {self.variant.dataset!r}")
        if "manifest.parquet" not in self.files:
            raise ValueError("files: no sha256 of manifest.parquet (not a gltr prepare report)")
        return self

    def identity(self) -> str:
        """The dataset's identity: a sha256 over everything that decides what a sample is (the manifest, the
        variant, every shard index JSON, whose own content is its shards' sha256). Prepared again with another
        rotation, body rule or clip rule, or from other raw files, a dataset has another identity."""
        decides = {k: v for k, v in self.files.items()
                   if k == "manifest.parquet" or (k.startswith("shards/") and k.endswith(".json"))}
        text = json.dumps({"variant": self.variant.to_dict(), "files": decides}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


class Shard(Record):
    name: ShardName
    bytes: Annotated[int, Field(ge=1024, le=64 << 30)]          # a sample is at least two 512-byte tar headers
    num_samples: Count
    sha256: Sha256

    @model_validator(mode="after")
    def _fits(self):
        if self.num_samples > self.bytes // 1024:
            raise ValueError(f"shard {self.name}: {self.num_samples} samples cannot fit in {self.bytes} bytes")
        return self


class ShardIndex(Record):
    """shards/<benchmark>/<split>.json: every field that becomes a path, URL, command, allocation or loop bound."""
    benchmark: BenchmarkName
    split: Literal["train", "test"]
    dataset: DatasetName
    num_classes: Annotated[int, Field(ge=1, le=10_000)]
    num_samples: Count
    shards: Annotated[list[Shard], Field(max_length=1_000_000)]
    variant: VariantField

    @model_validator(mode="after")
    def _consistent(self):
        total = sum(s.num_samples for s in self.shards)
        if self.num_samples != total:
            raise ValueError(f"num_samples {self.num_samples} is not the sum of its shards' ({total})")
        if self.variant.dataset != self.dataset:
            raise ValueError(f"dataset {self.dataset!r} is not its variant's {self.variant.dataset!r}")
        return self


# ----------------------------------------------------------------------------- the model config

MAX_WEIGHT_BYTES = 4 << 30      # fp32 weights of a model built from a file: ntu(), the largest preset, is 0.8 GB


def parameter_count(c) -> int:
    """Exact parameter count of GLTransformer(c) (gltr/model/gltransformer.py), computed without building it."""
    N = c.persons * c.joints
    D, C, r = c.dim, N * c.dim, c.ffn_ratio
    block = (c.t_max * N * D + 2 * D + 4 * D * D + 4 * D              # pos, spatial norm and attention
             + 2 * C + 4 * C * C + 4 * C + 2 * C                      # temporal norm and attention, FFN norm
             + 2 * r * C * C + r * C + C)                             # FFN
    return 8 * D + c.depth * block + 2 * C + 2 * C * C + 6 * C + len(c.intervals) * 43 * N * (C + 1)


class ModelConfig(Record):
    """A GLTConfig as stored in a checkpoint or a run: checked before anything is built."""
    persons: Annotated[int, Field(ge=1, le=8)]
    joints: Annotated[int, Field(ge=1, le=200)]
    centre: Annotated[int, Field(ge=0)]
    t_max: Annotated[int, Field(ge=2, le=100_000)]
    dim: Annotated[int, Field(ge=1, le=4096)]
    depth: Annotated[int, Field(ge=1, le=128)]
    spatial_heads: Annotated[int, Field(ge=1, le=4096)]
    temporal_heads: Annotated[int, Field(ge=1, le=65_536)]
    ffn_ratio: Annotated[int, Field(ge=1, le=16)]
    dropout: Annotated[float, Field(ge=0, lt=1)]
    drop_path: Annotated[float, Field(ge=0, lt=1)]
    pos_init: Literal["zeros", "sinusoid"]
    init: Literal["torch", "trunc_normal"]
    intervals: Annotated[list[Annotated[int, Field(ge=1, le=1000)]], Field(min_length=1, max_length=16)]

    @model_validator(mode="after")
    def _buildable(self):
        width = self.persons * self.joints * self.dim
        if self.centre >= self.joints:
            raise ValueError(f"centre {self.centre} is not one of the {self.joints} joints")
        if self.dim % self.spatial_heads:
            raise ValueError(f"dim {self.dim} is not divisible by spatial_heads {self.spatial_heads}")
        if width % self.temporal_heads:
            raise ValueError(f"the width {width} (persons x joints x dim) is not divisible by temporal_heads "
                             f"{self.temporal_heads}")
        if max(self.intervals) >= self.t_max or len(set(self.intervals)) != len(self.intervals):
            raise ValueError(f"intervals {self.intervals} must be distinct and below t_max {self.t_max}")
        weights = 4 * parameter_count(self)
        if weights > MAX_WEIGHT_BYTES:
            raise ValueError(f"this model would hold {weights / 2 ** 30:.1f} GiB of weights, over the "
                             f"{MAX_WEIGHT_BYTES >> 30} GiB gltr builds from a file")
        return self


# ----------------------------------------------------------------------------- runs and checkpoints

class LoaderPosition(Record):
    epoch: Count
    batch: Count
    workers: Annotated[int, Field(ge=0, le=1024)]


class CheckpointMeta(Record):
    """The meta inside a checkpoint (and its mirror JSON). Its model config is checked field by field
    (ModelConfig) where a model is built from it: GLTConfig.from_dict, after upgrading an older one."""
    model_config_: dict = Field(alias="model_config")
    variant: dict | None = None
    epoch: Count = 0
    step: Count = 0
    epochs_total: Count | None = None       # the run's --epochs, resolved (None: a checkpoint from before 2026-12-05)
    contents: Literal["full", "weights"] = "full"
    loader: LoaderPosition | None = None
    dataset_identity: Sha256 | None = None
    dataset_manifest_sha256: Sha256 | None = None
    benchmark: BenchmarkName | None = None
    world_size: Annotated[int, Field(ge=1, le=100_000)] = 1


class CheckpointMirror(CheckpointMeta):
    weights_sha256: Sha256


class PretrainRecord(Record):
    """A run's pretrain.json (written at the end of a pretraining run)."""
    dataset: DatasetName
    benchmark: BenchmarkName
    model_config_: dict = Field(alias="model_config")
    run_config: dict
    dataset_identity: Sha256 | None = None
    checkpoint: str | None = None
    steps: Count
    wall_s: Annotated[float, Field(ge=0)]
    final_loss: float | None = None
    git_commit: str = "unknown"


class EvalResult(Record):
    """A run's eval/<name>.json: what `gltr report` and `gltr evidence` read."""
    evaluation: Literal["linear", "knn", "semi", "finetune"]
    dataset: DatasetName
    benchmark: BenchmarkName
    protocol: Annotated[str, StringConstraints(max_length=100)]
    top1: Percent
    top5: Percent | None = None
    top1_std: Annotated[float, Field(ge=0, le=100)] | None = None
    top5_std: Annotated[float, Field(ge=0, le=100)] | None = None
    split: Literal["test", "validation"] = "test"
    percent: Annotated[int, Field(ge=1, le=100)] | None = None
    k: Annotated[int, Field(ge=1)] | None = None
    encoder: Literal["pretrained", "random", "handcrafted"] | None = None
    random_init: bool = False
    transfer: bool = False
    pretrained_on: DatasetName | None = None
    checkpoint_sha256: str | None = None
    dataset_identity: Sha256 | None = None
    config: dict | None = None

    @model_validator(mode="after")
    def _semi_has_percent(self):
        if self.evaluation == "semi" and self.percent is None:
            raise ValueError("a semi-supervised result without its percent")
        return self


def result_name(evaluation: str, benchmark: str, percent: int | None = None, validation: bool = False,
                reference: bool = False, standardize: bool = False, seed: int | None = None,
                encoder: str = "pretrained", k: int | None = None) -> str:
    """Every result file's name (eval/<name>.json), made here only:
    <evaluation>-<benchmark>[-<percent>pct][-val][-reference][-std][-seed<N>][-random|-handcrafted][-k<k>],
    e.g. linear-view, linear-view-val-std-random, knn-view-handcrafted-k1, semi-view-5pct-seed0,
    finetune-view-val-seed0-random. Fine-tuning and semi without a `seed`: the seeds' summary; `k`: only a
    kNN k other than the default."""
    return (f"{evaluation}-{benchmark}" + (f"-{percent}pct" if percent else "") + ("-val" if validation else "")
            + ("-reference" if reference else "") + ("-std" if standardize else "")
            + (f"-seed{seed}" if seed is not None else "")
            + {"pretrained": "", "random": "-random", "handcrafted": "-handcrafted"}[encoder]
            + (f"-k{k}" if k is not None else ""))


class ExportRecord(Record):
    """gltr-export.json: what an export wrote, with the sha256 of each file."""
    files: dict[RelPath, Sha256]


class ListEntry(Record):
    sha256: Sha256
    samples: Count | None = None


class ListIndex(RootModel[dict[RelPath, ListEntry]]):
    """index.json of a folder of sample lists (semi/, validation/): {list file: its count and sha256}."""
    model_config = ConfigDict(strict=True, allow_inf_nan=False)


class MetricsLine(Record):
    """One line of a run's metrics.jsonl."""
    step: Count
    loss: float
    loss_terms: dict[str, dict[str, float]] = {}


LIMITS = {PrepareReport: 256 << 20, ShardIndex: 64 << 20, PretrainRecord: 16 << 20, EvalResult: 16 << 20,
          ExportRecord: 64 << 20, ListIndex: 64 << 20, CheckpointMirror: 16 << 20, MetricsLine: 1 << 30}
# bytes: prepare.json lists every failed file of a 114k-file tree; an index, a few hundred shards; metrics.jsonl,
# one short line per logged step of the longest run


# ----------------------------------------------------------------------------- reading

def problem(e: ValidationError) -> str:
    """The first problem of a validation error as `<field>: <why>` (the field path dotted; a problem of the whole
    record: `<why>`)."""
    first = e.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    why = first["msg"].removeprefix("Value error, ")
    if first["type"] == "json_invalid":
        return f"not valid JSON ({why.removeprefix('Invalid JSON: ')})"
    if first["type"] in ("model_type", "dict_type"):
        return f"{field + ': ' if field else ''}not a JSON object"
    if first["type"] not in ("value_error", "missing"):
        got = repr(first.get("input"))
        why += f" (got {got[:40] + '…' if len(got) > 40 else got})"
    return f"{field}: {why}" if field else why


def parse(data: bytes, schema: type[BaseModel], where: str) -> BaseModel:
    """`data` (the whole file) validated against `schema`; ValueError `<where>: <field>: <why>`."""
    try:
        return schema.model_validate_json(data)
    except ValidationError as e:
        raise ValueError(f"{where}: {one_line(problem(e))}") from None


def one_line(text: str) -> str:
    """A message that names values from the file stays one line: its line breaks written as \\n."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def check(value, schema: type[BaseModel], where: str) -> BaseModel:
    """An already-decoded value (a checkpoint's meta, a config dict) validated against `schema` exactly as a file
    would be (written out as JSON first: tuples become lists, anything JSON cannot hold is refused)."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: not a gltr record ({e})") from None
    return parse(text.encode(), schema, where)


def read(where: str, schema: type[BaseModel], limit: int | None = None) -> BaseModel:
    """The file at `where` (local path, http(s) URL or pipe: command), read bounded and validated."""
    return parse(fetch.read(str(where), limit or LIMITS[schema]), schema, str(where))


def read_lines(where: str, schema: type[BaseModel], limit: int | None = None) -> list[BaseModel]:
    """A JSON-lines file, each non-empty line validated; the error names the line."""
    text = fetch.read(str(where), limit or LIMITS[schema])
    return [parse(line, schema, f"{where}: line {i}") for i, line in enumerate(text.split(b"\n"), 1) if line.strip()]

