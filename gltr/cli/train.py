"""`gltr model`, `gltr pretrain`: the training stage's commands."""
import json
from pathlib import Path

import typer

from gltr.cli.common import (BENCHMARK_HELP, DATA_HELP, STDOUT, PosInit, Precision, Preset, Schedule, command,
                             dataset_default, default_text, fail, given, print_out)
from gltr.configs import PretrainConfig, check_options
from gltr.datasets import INTERVALS


@command()
def model(preset: Preset = typer.Option(Preset.ntu, help="model widths and depth"),
          frames: int = typer.Option(None, help="sequence length for GFLOPs [default: the preset's T_max]"),
          as_json: bool = typer.Option(False, "--json", help="print JSON instead of a sentence")):
    """Parameter counts (encoder, heads) and encoder forward GFLOPs per sequence."""
    from gltr.model.gltransformer import PRESETS, count_parameters, forward_gflops
    check_options("model", frames=frames)
    cfg = PRESETS[preset.value]()
    frames = cfg.t_max if frames is None else frames
    if frames > cfg.t_max:
        fail(f"--frames {frames} exceeds the preset's T_max {cfg.t_max}")
    info = {"preset": preset.value, **count_parameters(cfg), "frames": frames,
            "forward_gflops_per_sequence": round(forward_gflops(cfg, frames), 3), "config": cfg.to_dict()}
    if as_json:
        STDOUT.print_json(json.dumps(info))
        return
    print_out(f"preset {preset.value}: encoder {info['encoder']:,} parameters, heads {info['heads']:,}, "
              f"total {info['total']:,}; encoder forward {info['forward_gflops_per_sequence']:.1f} GFLOPs "
              f"per sequence of {frames} frames")


@command(compute=True)
def pretrain(data: str = typer.Option(..., help=DATA_HELP),
             benchmark: str = typer.Option(..., help=BENCHMARK_HELP),
             preset: Preset = typer.Option(None, help="model widths and depth " + dataset_default("pretrain_preset")),
             pos_init: PosInit = typer.Option(None, help="override the preset's positional-embedding init"),
             intervals: str = typer.Option(None, help="MPDP intervals, comma-separated, e.g. 1 or 1,5,10 "
                                          f"[default: {','.join(map(str, INTERVALS))}]"),
             epochs: int = typer.Option(None, help="training epochs " + dataset_default("pretrain_epochs")),
             batch_size: int = typer.Option(None, help="clips per step, per process " + default_text(PretrainConfig, "batch_size")),
             lr: float = typer.Option(None, help="AdamW learning rate at epoch 0 " + default_text(PretrainConfig, "lr")),
             weight_decay: float = typer.Option(None, help="AdamW weight decay " + default_text(PretrainConfig, "weight_decay")),
             schedule: Schedule = typer.Option(None, help="exp: lr x --lr-decay each epoch (the authors'); cosine: "
                                               "--warmup-epochs of linear warm-up, then a cosine to 0 at the last step "
                                               + default_text(PretrainConfig, "schedule")),
             lr_decay: float = typer.Option(None, help="lr factor per epoch (exp) " + default_text(PretrainConfig, "lr_decay")),
             warmup_epochs: int = typer.Option(None, help="epochs of linear warm-up (cosine) "
                                               + default_text(PretrainConfig, "warmup_epochs")),
             precision: Precision = typer.Option(None, help="auto: the bf16 policy shown at parity with fp32 on this device "
                                           "type, else fp32; bf16-fp32-input: bf16 autocast with the input embeddings in fp32; "
                                           "the MPDP losses stay fp32 " + default_text(PretrainConfig, "precision")),
             compile: bool = typer.Option(None, "--compile/--no-compile", help="torch.compile the model, batches padded "
                                          "to multiples of 8 frames [default: on only where measured to pay back within an "
                                          "hour: nwucla() in bf16 on a CPU]"),
             trajectory_weight_all: bool = typer.Option(None, "--trajectory-weight-all",
                                                        help="0.05 on every interval's trajectory tokens (not just interval 1)"),
             augment: bool = typer.Option(None, "--augment/--no-augment", help="temporal interpolation and shear "
                                          + default_text(PretrainConfig, "augment")),
             workers: int = typer.Option(None, help="loader processes per rank " + default_text(PretrainConfig, "workers")),
             seed: int = typer.Option(None, help="seed of the weights' init, shard order and augmentation "
                                      + default_text(PretrainConfig, "seed")),
             save_every: int = typer.Option(None, help="keep a weights-only checkpoints/epoch-NNNN.pt every N "
                                            "epochs " + default_text(PretrainConfig, "save_every")),
             max_steps: int = typer.Option(None, help="stop and checkpoint after this many steps"),
             time_budget_min: float = typer.Option(None, help="stop and checkpoint after this many minutes"),
             out: Path = typer.Option(None, help="run folder (checkpoints/, metrics.jsonl, memory.jsonl, tb/, pretrain.json) "
                                      + default_text(PretrainConfig, "out")),
             resume: bool = typer.Option(None, "--resume", help="continue the run in --out from its checkpoints/latest.pt"),
             overwrite: bool = typer.Option(None, "--overwrite", help="start again in a non-empty --out")):
    """MPDP pretraining on the training split's shards (CPU, one GPU, or many under torchrun)."""
    from gltr.train.pretrain import train
    try:
        steps = tuple(int(n) for n in intervals.split(",")) if intervals else None
    except ValueError:
        fail(f"--intervals must be comma-separated integers, not {intervals!r}")
    summary = train(PretrainConfig(data=str(data), benchmark=benchmark, **given(
        out=out and str(out), preset=preset and preset.value, pos_init=pos_init and pos_init.value, intervals=steps,
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, lr_decay=lr_decay,
        schedule=schedule and schedule.value, warmup_epochs=warmup_epochs, precision=precision and precision.value,
        compile=compile, trajectory_weight_all=trajectory_weight_all,
        augment=augment, workers=workers, seed=seed, save_every=save_every, max_steps=max_steps,
        time_budget_s=None if time_budget_min is None else time_budget_min * 60, resume=resume, overwrite=overwrite)))
    print_out(f"pretrained {summary['steps']} steps in {summary['wall_s']:.0f} s, final loss "
              + ("none" if summary["final_loss"] is None else f"{summary['final_loss']:.4f}") + f" -> {summary['checkpoint']}")
    sizes = summary["checkpoint_bytes"]
    print_out(f"checkpoints: {len(sizes)} files, {sum(sizes.values()) / 1e6:,.1f} MB ("
                      + ", ".join(f"{n} {b / 1e6:,.1f} MB" for n, b in sizes.items())
                      + "); latest.pt keeps the optimiser state for --resume, epoch-NNNN.pt the weights only")
