"""The settings of each command as flat dataclasses: every default has its one owner here.

Torch-free, so that the command line can show these defaults without paying for importing torch.
A command passes on only the options the user gave.
"""
from dataclasses import dataclass

PRECISIONS = ("auto", "fp32", "bf16", "bf16-fp32-input")     # --precision (gltr.train.precision)


@dataclass
class AttentionConfig:
    """`gltr attention` (gltr/attention.py)."""
    checkpoints: tuple
    data: str
    benchmark: str
    out: str = "runs/attention"
    samples: int = 300          # evaluation sequences (test split, stored order)
    frames: int = 30            # the temporal maps show the first `frames` frames, as the paper does
    batch_size: int = 8         # one batch's attention maps are the memory held: ~0.8 GB for ntu() at T = 300
    workers: int = 0


@dataclass
class PretrainConfig:
    """`gltr pretrain` (gltr/train/pretrain.py)."""
    data: str
    benchmark: str
    out: str = "runs/pretrain"
    preset: str | None = None           # default: the dataset's pretrain_preset (gltr.datasets)
    pos_init: str | None = None         # override the preset's positional-embedding init
    intervals: tuple | None = None      # MPDP prediction intervals; default: the dataset's (1, 5, 10)
    epochs: int | None = None           # default: the dataset's pretrain_epochs (gltr.datasets)
    batch_size: int = 128
    lr: float = 5e-5
    weight_decay: float = 0.1
    schedule: str = "exp"               # "exp": lr x lr_decay each epoch (the authors'); "cosine": warm-up, cosine to 0
    lr_decay: float = 0.99              # lr x 0.99 each epoch ("exp")
    warmup_epochs: int = 0              # linear warm-up ("cosine")
    precision: str = "auto"             # fp32, or a bf16 policy where one was shown at parity (gltr.train.precision)
    compile: bool | None = None         # None: on where it pays back within an hour (gltr.train.compiling.auto_compile)
    trajectory_weight_all: bool = False
    augment: bool = True
    workers: int = 2
    seed: int = 0
    save_every: int = 10                # also keep epoch-NNNN checkpoints every N epochs
    latest_every: int = 1               # write latest.pt every N epochs (and at the end or an early stop)
    max_steps: int | None = None        # stop (and checkpoint) after this many steps in all
    time_budget_s: float | None = None  # stop (and checkpoint) after this much wall time
    resume: bool = False
    overwrite: bool = False             # start again in a non-empty --out (its run files are replaced)
    log_every: int = 10


@dataclass
class LinearConfig:
    """`gltr linear` (gltr/train/evaluate.py)."""
    data: str
    benchmark: str
    checkpoint: str | None = None
    epochs: int | None = None        # default: the dataset's probe_epochs (gltr.datasets)
    batch_size: int = 1024
    lr: float = 3e-3
    protocol: str = "cached"         # or "reference"
    augment: bool = True             # reference protocol only: interpolation on the training split
    dropout: bool = True             # reference protocol only: dropout left active in the encoder
    seed: int = 0
    workers: int = 2
    out: str | None = None           # default: the checkpoint's run folder
    random_init: dict | None = None  # {"model_config", "seed"}: probe a random encoder instead
    standardize: bool = False        # features standardised with the training split's mean and std
    features: str = "encoder"        # or "handcrafted" (the baseline; always standardised)
    validation: bool = False         # score on the held-out training subjects, not the test split


@dataclass
class KnnConfig:
    """`gltr knn` (gltr/train/evaluate.py)."""
    data: str
    benchmark: str
    checkpoint: str | None = None
    k: int = 20
    workers: int = 2
    out: str | None = None
    random_init: dict | None = None
    features: str = "encoder"        # or "handcrafted"
    validation: bool = False


@dataclass
class SemiConfig:
    """`gltr semi` (gltr/train/semi.py): the loop of gltr/train/finetune.py on a committed list."""
    data: str
    benchmark: str
    percent: int
    seed: int = 0
    checkpoint: str | None = None
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-4                 # the encoder's (its top block; layer_decay scales the ones below)
    head_lr: float | None = 1e-3     # None: lr
    weight_decay: float = 0.01
    weight_decay_all: bool = True    # also on biases, norms and positional tables (as the semi figures were measured)
    warmup_epochs: int = 0
    schedule: str = "constant"       # or "cosine"
    layer_decay: float = 1.0
    label_smoothing: float = 0.0
    drop_path: float | None = None   # None: the checkpoint's
    workers: int = 0                 # a few hundred clips: worker processes would only fight the model for the cores
    out: str | None = None
    random_init: dict | None = None


@dataclass
class FinetuneConfig:
    """`gltr finetune` (gltr/train/finetune.py): whole encoder + head on 100 % of the training labels.
    MAMP's recipe is 100 epochs, 5 warm-up, batch 24, lr 5e-4, layer decay 0.8, smoothing 0.1, drop path 0.3;
    these defaults were chosen on NW-UCLA's validation list (docs/results.md, "Fine-tuning")."""
    data: str
    benchmark: str
    checkpoint: str | None = None
    epochs: int = 30
    batch_size: int = 32
    lr: float = 5e-4                 # the top block's; layer_decay scales the ones below
    head_lr: float | None = None     # None: lr
    weight_decay: float = 0.05
    weight_decay_all: bool = False   # False: none on biases, norms and positional tables (as MAMP, timm)
    warmup_epochs: int = 3
    schedule: str = "cosine"         # or "constant"
    layer_decay: float = 0.8
    label_smoothing: float = 0.1
    drop_path: float | None = 0.1    # None: the checkpoint's
    seed: int = 0
    workers: int = 0
    out: str | None = None
    random_init: dict | None = None
    validation: bool = False         # train without the validation list, score on it


@dataclass
class DemoConfig:
    """`gltr demo` (gltr/demo.py): the embedded default, a miniature of the whole pipeline."""
    out: str = "demo"
    samples: int = 540                  # NW-UCLA JSON files, a third per view (views 1-2 train, 3 test)
    classes: int = 6
    epochs: int = 80
    probe_epochs: int = 200
    workers: int = 2
    batch_size: int = 16
    lr: float = 1e-3
    lengths: tuple = (24, 40)           # clip lengths are drawn from this range


@dataclass
class EvidenceConfig:
    """`gltr evidence` (gltr/evidence.py)."""
    data: str
    run: str                            # the pretraining run folder
    out: str = "runs/evidence"
    benchmark: str = "view"
    semi_seeds: tuple = (0, 1, 2, 3, 4)
    percents: tuple = (5, 10)
    workers: int = 1
    probe_epochs: int | None = None     # default: the linear protocol's (300 for NW-UCLA); smaller only in tests
    semi_epochs: int = 100
    semi_runs: bool = True              # False: only gather the identical semi-supervised runs already on disk
