"""The settings of each command as flat dataclasses: every default has its one owner here, and so has every
numeric option's range (`bounded`), checked when a config is made: the command line and the Python API refuse
a bad value alike, with one line naming the option (`--epochs: 0 is not a whole number from 1 to 100000`).
A count is never 0 to mean "the default": an absent value (None) does that.

Torch-free, so that the command line can show these defaults without paying for importing torch.
A command passes on only the options the user gave.
"""
import math
import typing
from dataclasses import dataclass, field, fields
from numbers import Integral, Real

PRECISIONS = ("auto", "fp32", "bf16", "bf16-fp32-input")     # --precision (gltr.train.precision)
PERCENTS = (1, 5, 10)           # --percent: the committed semi-supervised lists' (gltr.pipeline.sample_lists.PERCENTS)
PRESETS = ("ntu", "nwucla", "small", "tiny")        # --preset: gltr.model.gltransformer.PRESETS (a test keeps them equal)
POS_INITS = ("zeros", "sinusoid")                   # --pos-init: GLTConfig.pos_init
PRETRAIN_SCHEDULES = ("exp", "cosine")              # gltr.train.schedule.pretrain_lr
FINETUNE_SCHEDULES = ("cosine", "constant")         # gltr.train.schedule.lr_scale
PROTOCOLS = ("cached", "reference")                 # LinearConfig.protocol
FEATURES = ("encoder", "handcrafted")               # LinearConfig.features, KnnConfig.features


@dataclass(frozen=True)
class Bound:
    """The values an option may take: a whole number (kind int, never a bool) or a finite number (kind float)
    from `low` to `high`; `above`/`below`: the end itself excluded; `choices`: only these."""
    low: float
    high: float
    kind: type = int
    above: bool = False
    below: bool = False
    choices: tuple | None = None

    def text(self, per: float = 1) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind is int:
            return f"a whole number from {self.low} to {self.high}"
        low, high = self.low / per, self.high / per
        return f"a number {'>' if self.above else '>='} {low:g} and {'<' if self.below else '<='} {high:g}"

    def check(self, option: str, value, per: float = 1) -> None:
        """Raise ValueError(`<option>: <value> is not <the range>`) unless `value` is in range (`per`: the
        option's unit in the value's, e.g. 60 for --time-budget-min into seconds)."""
        whole = isinstance(value, Integral) and not isinstance(value, bool)
        number = whole or (isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value))
        ok = whole if self.kind is int else number
        if ok and self.choices:
            ok = value in self.choices
        elif ok:
            ok = ((value > self.low if self.above else value >= self.low)
                  and (value < self.high if self.below else value <= self.high))
        if not ok:
            try:
                shown = value / per if number and per != 1 else value
            except OverflowError:
                shown = value
            shown = repr(shown) if len(repr(shown)) <= 40 else repr(shown)[:24] + "…"
            raise ValueError(f"{option}: {shown} is not {self.text(per)}")


EPOCHS = Bound(1, 100_000)
WARMUP = Bound(0, 100_000)                          # epochs; 0: none
BATCH = Bound(1, 65_536)
WORKERS = Bound(0, 256)                             # loader processes; 0: in the main process
PROCESSES = Bound(1, 256)                           # processes that do the work (prepare, export)
SEED = Bound(0, 2**32 - 1)
EVERY = Bound(1, 100_000)                           # epochs or steps between two checkpoints or log lines
STEPS = Bound(1, 10**12)
SAMPLES = Bound(1, 10**7)
LR = Bound(0, 100, float, above=True)
WEIGHT_DECAY = Bound(0, 100, float)
FRACTION = Bound(0, 1, float, below=True)           # dropout, drop path, label smoothing: [0, 1)
DECAY = Bound(0, 1, float, above=True)              # a factor per epoch or per block: (0, 1]
SECONDS = Bound(0, 6 * 10**8, float, above=True)        # ~19 years
THREADS = Bound(1, 4096)                            # --threads, GLTR_THREADS (gltr.resources)


def bounded(default, bound: Bound, flag: str | None = None, per: float = 1, each: bool = False):
    """A dataclass field with its range: `flag` the option's name where it is not the field's, `per` its unit
    in the field's (60: minutes given, seconds kept), `each`: a tuple whose every item is checked."""
    return field(default=default, metadata={"bound": bound, "flag": flag, "per": per, "each": each})


def check_fields(cfg) -> None:
    """Every bounded field of a config in range (None only where its type allows it): the configs' __post_init__."""
    for f in fields(cfg):
        if "bound" not in f.metadata:
            continue
        m, value = f.metadata, getattr(cfg, f.name)
        if value is None and type(None) in typing.get_args(f.type):      # `int | None`: None means "the default"
            continue
        option = "--" + (m["flag"] or f.name.replace("_", "-"))
        if m["each"]:
            if not isinstance(value, (tuple, list)):
                raise ValueError(f"{option}: {value!r} is not a list of values")
            for item in value:
                m["bound"].check(option, item, m["per"])
        else:
            m["bound"].check(option, value, m["per"])


def check_distinct(option: str, values) -> None:
    """ValueError `<option>: <value> given twice` for a repeated value of a repeatable option (each is one run)."""
    values = list(values)
    if len(set(values)) != len(values):
        raise ValueError(f"{option}: {next(v for v in values if values.count(v) > 1)} given twice (each is one run)")


# Options whose defaults live in a function's signature, not in a config below: their ranges, by command.
OPTIONS = {
    "gltr": {"threads": THREADS},
    "model": {"frames": Bound(1, 100_000)},                  # and at most the preset's T_max
    "prepare": {"workers": PROCESSES, "shard_size": Bound(1, 10**6)},
    "synth": {"samples": Bound(1, 10**6), "seed": SEED, "classes": Bound(1, 120)},   # and each format's own
    "show": {"frames": Bound(1, 64)},                        # panels on a .png (gltr.analysis.show.MAX_FRAMES)
    "export ctrgcn": {"workers": PROCESSES},
}


def check_options(command: str, **values) -> None:
    """The given (not None) options of `command` in range (OPTIONS), else ValueError naming the first bad one."""
    for name, value in values.items():
        if value is not None:
            OPTIONS[command][name].check("--" + name.replace("_", "-"), value)


@dataclass
class AttentionConfig:
    """`gltr attention` (gltr/analysis/attention.py)."""
    checkpoints: tuple
    data: str
    benchmark: str
    out: str = "runs/attention"
    samples: int = bounded(300, SAMPLES)                # evaluation sequences (test split, stored order)
    frames: int = bounded(30, Bound(1, 100_000))        # the temporal maps show the first `frames` frames, as the paper does
    batch_size: int = bounded(8, Bound(1, 64))          # one batch's attention maps are the memory held: ~0.8 GB for ntu() at T = 300
    workers: int = bounded(0, WORKERS)
    __post_init__ = check_fields


@dataclass
class PretrainConfig:
    """`gltr pretrain` (gltr/train/pretrain.py)."""
    data: str
    benchmark: str
    out: str = "runs/pretrain"
    preset: str | None = None           # default: the dataset's pretrain_preset (gltr.datasets)
    pos_init: str | None = None         # override the preset's positional-embedding init
    intervals: tuple | None = None      # MPDP prediction intervals; default: the dataset's (1, 5, 10)
    epochs: int | None = bounded(None, EPOCHS)          # default: the dataset's pretrain_epochs (gltr.datasets)
    batch_size: int = bounded(128, BATCH)
    lr: float = bounded(5e-5, LR)
    weight_decay: float = bounded(0.1, WEIGHT_DECAY)
    schedule: str = "exp"               # "exp": lr x lr_decay each epoch (the authors'); "cosine": warm-up, cosine to 0
    lr_decay: float = bounded(0.99, DECAY)              # lr x 0.99 each epoch ("exp")
    warmup_epochs: int = bounded(0, WARMUP)             # linear warm-up ("cosine")
    precision: str = "auto"             # fp32, or a bf16 policy where one was shown at parity (gltr.train.precision)
    compile: bool | None = None         # None: on where it pays back within an hour (gltr.train.compiling.auto_compile)
    trajectory_weight_all: bool = False
    augment: bool = True
    workers: int = bounded(2, WORKERS)
    seed: int = bounded(0, SEED)
    save_every: int = bounded(10, EVERY)                # also keep epoch-NNNN checkpoints every N epochs
    latest_every: int = bounded(1, EVERY)               # write latest.pt every N epochs (and at the end or an early stop)
    max_steps: int | None = bounded(None, STEPS)        # stop (and checkpoint) after this many steps in all
    time_budget_s: float | None = bounded(None, SECONDS, "time-budget-min", per=60)   # stop (and checkpoint) after this
                                        # much wall time (the command line takes minutes)
    resume: bool = False
    overwrite: bool = False             # start again in a non-empty --out (its run files are replaced)
    log_every: int = bounded(10, EVERY)
    def __post_init__(self):
        check_fields(self)
        if self.resume and self.overwrite:
            raise ValueError("--resume and --overwrite: give one (go on with the run, or start it again)")


@dataclass
class LinearConfig:
    """`gltr linear` (gltr/train/evaluate.py)."""
    data: str
    benchmark: str
    checkpoint: str | None = None
    epochs: int | None = bounded(None, EPOCHS)   # default: the dataset's probe_epochs (gltr.datasets)
    batch_size: int = bounded(1024, BATCH)
    lr: float = bounded(3e-3, LR)
    protocol: str = "cached"         # or "reference"
    augment: bool = True             # reference protocol only: interpolation on the training split
    dropout: bool = True             # reference protocol only: dropout left active in the encoder
    seed: int = bounded(0, SEED)
    workers: int = bounded(2, WORKERS)
    out: str | None = None           # default: the checkpoint's run folder
    random_init: dict | None = None  # {"model_config", "seed"}: probe a random encoder instead
    standardize: bool = False        # features standardised with the training split's mean and std
    features: str = "encoder"        # or "handcrafted" (the baseline; always standardised)
    validation: bool = False         # score on the held-out training subjects, not the test split
    __post_init__ = check_fields


@dataclass
class KnnConfig:
    """`gltr knn` (gltr/train/evaluate.py)."""
    data: str
    benchmark: str
    checkpoint: str | None = None
    k: int = bounded(20, SAMPLES)
    workers: int = bounded(2, WORKERS)
    out: str | None = None
    seed: int = bounded(0, SEED)     # --random-init: the seed of the random weights
    random_init: dict | None = None
    features: str = "encoder"        # or "handcrafted"
    validation: bool = False
    __post_init__ = check_fields


@dataclass
class FinetuneConfig:
    """`gltr finetune` (gltr/train/finetune.py): whole encoder + head on 100 % of the training labels (or on a
    committed list of `percent` % of them: `gltr semi`, whose recipe is semi_config's).
    MAMP's recipe is 100 epochs, 5 warm-up, batch 24, lr 5e-4, layer decay 0.8, smoothing 0.1, drop path 0.3;
    these defaults were chosen on NW-UCLA's validation list (docs/results.md, "Fine-tuning")."""
    data: str
    benchmark: str
    checkpoint: str | None = None
    epochs: int = bounded(30, EPOCHS)
    batch_size: int = bounded(32, BATCH)
    lr: float = bounded(5e-4, LR)    # the top block's; layer_decay scales the ones below
    head_lr: float | None = bounded(None, LR)   # None: lr
    weight_decay: float = bounded(0.05, WEIGHT_DECAY)
    weight_decay_all: bool = False   # False: none on biases, norms and positional tables (as MAMP, timm)
    warmup_epochs: int = bounded(3, WARMUP)
    schedule: str = "cosine"         # or "constant"
    layer_decay: float = bounded(0.8, DECAY)
    label_smoothing: float = bounded(0.1, FRACTION)
    drop_path: float | None = bounded(0.1, FRACTION)   # None: the checkpoint's
    seed: int = bounded(0, SEED)
    workers: int = bounded(0, WORKERS)
    out: str | None = None
    random_init: dict | None = None
    validation: bool = False         # train without the validation list, score on it
    percent: int | None = bounded(None, Bound(1, 10, choices=PERCENTS))   # only the committed list of this % of
                                     # the labels (semi-supervised; its recipe: semi_config); None: all of them

    def __post_init__(self):
        check_fields(self)
        if self.percent is not None and self.validation:
            raise ValueError("--validation: a semi-supervised run scores on the test split (its list may hold "
                             "validation samples)")


# `gltr semi`'s recipe (the authors published none), as the semi-supervised figures were measured: the fields of
# FinetuneConfig it sets otherwise
SEMI_RECIPE = {
    "epochs": 100, "batch_size": 64,
    "lr": 1e-4, "head_lr": 1e-3,        # the encoder's (its top block; layer_decay scales the ones below); the head's
    "weight_decay": 0.01, "weight_decay_all": True,     # also on biases, norms and positional tables
    "warmup_epochs": 0, "schedule": "constant", "layer_decay": 1.0, "label_smoothing": 0.0,
    "drop_path": None,                  # the checkpoint's
}


def semi_config(data: str, benchmark: str, percent: int, **options) -> "FinetuneConfig":
    """`gltr semi`: fine-tuning on the committed list of `percent` % of the labels (FinetuneConfig.percent), with
    SEMI_RECIPE where `options` do not say otherwise."""
    return FinetuneConfig(data=data, benchmark=benchmark, percent=percent, **{**SEMI_RECIPE, **options})


@dataclass
class DemoConfig:
    """`gltr demo` (gltr/demo.py): the embedded default, a miniature of the whole pipeline."""
    out: str = "demo"
    samples: int = bounded(540, Bound(20, 10**6))      # NW-UCLA JSON files, a third per view (views 1-2 train, 3 test)
    classes: int = bounded(6, Bound(2, 10))             # NW-UCLA has 10
    epochs: int = bounded(80, EPOCHS)
    probe_epochs: int = bounded(200, EPOCHS)
    workers: int = bounded(2, PROCESSES)
    batch_size: int = bounded(16, BATCH)
    lr: float = bounded(1e-3, LR)
    lengths: tuple = (24, 40)           # clip lengths are drawn from this range
    __post_init__ = check_fields


@dataclass
class EvidenceConfig:
    """`gltr evidence` (gltr/analysis/evidence.py)."""
    data: str
    run: str                            # the pretraining run folder
    out: str = "runs/evidence"
    benchmark: str = "view"
    semi_seeds: tuple = bounded((0, 1, 2, 3, 4), SEED, "semi-seed", each=True)
    percents: tuple = bounded((5, 10), Bound(1, 10, choices=PERCENTS), "percent", each=True)
    workers: int = bounded(1, WORKERS)
    probe_epochs: int | None = bounded(None, EPOCHS)   # default: the linear protocol's (300 for NW-UCLA); smaller only in tests
    semi_epochs: int = bounded(SEMI_RECIPE["epochs"], EPOCHS)
    semi_runs: bool = True              # False: only gather the identical semi-supervised runs already on disk

    def __post_init__(self):
        check_fields(self)
        check_distinct("--semi-seed", self.semi_seeds)
        check_distinct("--percent", self.percents)
