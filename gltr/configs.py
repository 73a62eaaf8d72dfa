"""The settings of each command as flat dataclasses: every default has its one owner here.

Torch-free, so that the command line can show these defaults without paying for importing torch.
A command passes on only the options the user gave.
"""
from dataclasses import dataclass


@dataclass
class AttentionConfig:
    checkpoints: tuple
    data: str
    benchmark: str
    out: str = "runs/attention"
    samples: int = 300          # evaluation sequences (test split, stored order)
    frames: int = 30            # the temporal maps show the first `frames` frames, as the paper does
    batch_size: int = 8         # one batch's attention is the memory held: ~0.4 GB for ntu() at T = 300
    workers: int = 0
