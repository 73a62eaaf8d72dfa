"""`gltr pretrain`: unsupervised MPDP pretraining of GL-Transformer, streaming the prepared shards.

    gltr pretrain --data demo/data --benchmark xsub --preset tiny --epochs 2 --out runs/tiny   # tiny CPU run
    gltr pretrain --data data/ntu120 --benchmark xsub --out runs/ntu120-xsub                     # one GPU, bf16-fp32-input
    torchrun --nproc_per_node 8 -m gltr.cli.main pretrain --data data/ntu120 --benchmark xsub     # 8 GPUs (DDP)
"""
import functools
import json
import math
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gltr import resources
from gltr.safety import atomic_file, hold_lock
from gltr.configs import PretrainConfig
from gltr.model.gltransformer import GLTConfig, GLTransformer, for_variant
from gltr.pipeline.mpdp import mpdp_labels
from gltr.train import checkpoint, compiling, precision as mixed
from gltr.train.data import LoaderConfig, ShardLoader
from gltr.train.prepared import PreparedData
from gltr.train.dist import all_mean, any_rank, finish_distributed, init_distributed
from gltr.train.loss import mpdp_loss
from gltr.train.schedule import pretrain_lr


def optimizer_for(model, cfg: PretrainConfig) -> torch.optim.Optimizer:
    """AdamW over every parameter, betas and eps at torch's defaults, as learn_PTmodel.py builds it."""
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


RESUME_SAME = ("batch_size", "seed", "augment", "lr", "lr_decay", "schedule", "warmup_epochs", "weight_decay",
               "trajectory_weight_all")                                 # a resumed run must keep these (batch order, lr)
RUN_FILES = ("checkpoints", "tb", "metrics.jsonl", "memory.jsonl", "pretrain.json")    # what a pretraining run writes in --out
EVAL_FILES = ("*.json", "features-*.pt")                                # what evaluations write into <run>/eval
LOCK = ".lock"                                                          # held by the run writing into --out


def check_run_folder(out: Path, resume: bool, overwrite: bool, remove: bool = True) -> None:
    """--resume needs a checkpoint; a fresh run needs an empty --out, or --overwrite (which removes
    only the files a run and its evaluations write, never anything else; under DDP only rank 0 removes:
    `remove`)."""
    latest = out / "checkpoints" / "latest.pt"
    if resume:
        if not latest.exists():
            raise FileNotFoundError(f"--resume: there is no checkpoint {latest} (is --out right?)")
        return
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file")
    if out.exists() and any(p.name != LOCK for p in out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty: --resume continues its run, --overwrite starts again")
        for name in RUN_FILES if remove else ():
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        if remove:
            clear_evaluations(out / "eval")


def clear_evaluations(folder: Path) -> None:
    """--overwrite: the results and feature caches of the old run's checkpoints go with them, under the
    evaluation lock (no evaluation is writing there meanwhile); files evaluations do not write stay."""
    if not folder.is_dir():
        return
    with hold_lock(folder / ".lock", "pretrain --overwrite"):
        for pattern in EVAL_FILES:
            for path in folder.glob(pattern):
                if path.is_file() or path.is_symlink():
                    path.unlink()


def memory(device) -> dict:
    """Resident memory of this process (MB), and on a GPU the allocator's allocated / reserved / peak (MB)."""
    out = {"rss_mb": resources.rss_mb()}
    if device.type == "cuda":
        out.update(cuda_allocated_mb=torch.cuda.memory_allocated(device) / 1e6,
                   cuda_reserved_mb=torch.cuda.memory_reserved(device) / 1e6,
                   cuda_peak_allocated_mb=torch.cuda.max_memory_allocated(device) / 1e6)
    return out


def trim_lines(path: Path, keep) -> None:
    """Keep the JSON lines of `path` whose record `keep` accepts (an unreadable line goes), rewritten whole."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if keep(json.loads(line)):
                kept.append(line + "\n")
        except (ValueError, KeyError, TypeError):
            continue
    with atomic_file(path) as tmp:
        tmp.write_text("".join(kept))


class RunLog:
    """Rank 0's record of a run: metrics.jsonl, TensorBoard and the progress bar. `record` runs on every
    rank (it averages the loss over ranks), only rank 0 writes."""

    def __init__(self, out: Path, main: bool, total_steps: int, step: int, epoch: int, earlier_s: float,
                 batch: int = 0):
        self.main, self.earlier_s, self.started = main, earlier_s, time.perf_counter()
        self.progress = Progress(TextColumn("pretrain e{task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]:.4f}  {task.fields[rate]:.1f} samples/s"),
                                 TimeRemainingColumn(), console=Console(stderr=True), disable=not main)
        self.bar = self.progress.add_task("", total=total_steps, completed=step, epoch=epoch, loss=float("nan"), rate=0.0)
        self.last_loss = float("nan")
        if main:
            out.mkdir(parents=True, exist_ok=True)
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(out / "tb")
            if step:                        # resumed: what was logged past the checkpoint is done again, once
                trim_lines(out / "metrics.jsonl", lambda r: r["step"] <= step)
                trim_lines(out / "memory.jsonl", lambda r: (r["epoch"], r["batch"]) <= (epoch, batch))
            self.metrics = open(out / "metrics.jsonl", "a")
            self.memory = open(out / "memory.jsonl", "a")

    def elapsed(self) -> float:
        """Training seconds of this run, the sessions before a resume included."""
        return self.earlier_s + time.perf_counter() - self.started

    def record(self, step: int, epoch: int, batch: int, loss, terms, intervals: tuple, lr: float, rate: float, device):
        self.last_loss, *means = all_mean([loss.item(), *terms.flatten().tolist()], device)
        if self.main:
            record = {"step": step, "epoch": epoch, "batch": batch, "loss": self.last_loss,
                      "loss_terms": {f"interval{n}": {"direction": means[2 * i], "magnitude": means[2 * i + 1]}
                                     for i, n in enumerate(intervals)},
                      "lr": lr, "samples_per_s": rate, "elapsed_s": self.elapsed()}
            self.metrics.write(json.dumps(record) + "\n")
            self.metrics.flush()
            self.tb.add_scalar("pretrain/loss", self.last_loss, step)
            self.tb.add_scalar("pretrain/samples_per_s", rate, step)
            self.tb.add_scalar("pretrain/lr", lr, step)
            for name, heads in record["loss_terms"].items():
                for head, value in heads.items():
                    self.tb.add_scalar(f"pretrain/loss_{name}_{head}", value, step)
        self.progress.update(self.bar, loss=self.last_loss, rate=rate)

    def advance(self, epoch: int) -> None:
        self.progress.update(self.bar, advance=1, epoch=epoch)

    def epoch_end(self, epoch: int, batch: int, device) -> None:
        """memory.jsonl: the memory this process holds after `epoch` epochs and `batch` batches of the next (a
        run stopped early); a long run's curve must stay flat (`python -m gltr.bench --only soak`)."""
        if self.main:
            self.memory.write(json.dumps({"epoch": epoch, "batch": batch, "elapsed_s": self.elapsed(),
                                          **memory(device)}) + "\n")
            self.memory.flush()

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)
        if self.main:
            self.metrics.close()
            self.memory.close()
            self.tb.close()


COMPILE_PAD = 8         # with --compile, batches are padded to a multiple of 8 frames: at most T_max / 8 shapes


def mpdp_objective(forward, motion, mask, intervals: tuple, trajectory_tokens: list, weight_all: bool,
                   precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, per-interval terms) of a batch: MPDP labels from its motion [B, T, P, K, 3], the model's logits
    under the precision policy, the authors' reduction (gltr.train.loss)."""
    with torch.no_grad():
        direction, magnitude = mpdp_labels(motion, intervals)                # [B, T, I, P, K] each
    with mixed.autocast(precision, motion.device):
        direction_logits, magnitude_logits = forward(motion, mask)
    return mpdp_loss(direction_logits, magnitude_logits, direction.flatten(-2), magnitude.flatten(-2), mask,
                     trajectory_tokens, weight_all)


def optimizer_step(optimizer, loss: torch.Tensor, lr: float) -> None:
    """Backward and one update at `lr` (every group's: a function of the step, so resume is exact)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@torch.no_grad()
def culprits(objective, batch: dict, device) -> str:
    """Which samples of a batch whose loss was not finite make it so, each run alone: 'from sample K' (their keys),
    or, when every one does, that the weights themselves diverged. `objective(motion, mask)`: the run's
    mpdp_objective."""
    bad = []
    for i, key in enumerate(batch["key"]):
        motion, mask = batch["motion"][i:i + 1].to(device), batch["mask"][i:i + 1].to(device)   # [1, T, P, K, 3]
        loss, _ = objective(motion, mask)
        if not torch.isfinite(loss):
            bad.append(str(key))
    if len(bad) == len(batch["key"]) > 1:
        return f"from every one of its {len(bad)} samples: the weights diverged (a lower --lr?)"
    if not bad:
        return f"from no sample alone (the batch's {len(batch['key'])} samples: {', '.join(batch['key'][:3])}, …)"
    return f"from sample{'s' if len(bad) > 1 else ''} {', '.join(bad[:5])}" + (f" (+{len(bad) - 5})" if len(bad) > 5 else "")


def train(cfg: PretrainConfig) -> dict:
    """`gltr pretrain`: MPDP pretraining of GL-Transformer on a prepared dataset's training split, writing
    checkpoints, metrics and pretrain.json under `cfg.out`; return the run's summary (steps, final loss, time)."""
    # ------------------------------------------------------------------ setup
    rank, world, device = init_distributed()
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    ckpt_dir = out / "checkpoints"
    data = PreparedData.open(cfg.data)                      # read once, passed down
    variant = data.variant(cfg.benchmark)
    epochs = variant.info.pretrain_epochs if cfg.epochs is None else cfg.epochs
    if cfg.schedule not in ("exp", "cosine") or not 0 <= cfg.warmup_epochs < epochs:
        raise ValueError(f"schedule must be 'exp' or 'cosine' with 0 <= warm-up epochs < {epochs} epochs, not "
                         f"{cfg.schedule!r} with {cfg.warmup_epochs}")
    precision, precision_why = mixed.auto_precision(cfg.precision, device.type)
    compiled, compile_why = compiling.auto_compile(cfg.compile, device.type, cfg.preset or variant.info.pretrain_preset,
                                                   precision)
    mcfg = for_variant(variant, cfg.preset, cfg.intervals, cfg.pos_init)
    model = GLTransformer(mcfg).to(device)
    mixed.apply(model, precision)
    trajectory_tokens = [p * mcfg.joints + mcfg.centre for p in range(mcfg.persons)]
    loader = ShardLoader(data, cfg.benchmark, "train", LoaderConfig(
        batch_size=cfg.batch_size, workers=cfg.workers, seed=cfg.seed, shuffle=True,
        interpolation=cfg.augment, shear=0.3 if cfg.augment else 0.0, pad_multiple=COMPILE_PAD if compiled else 1),
        rank, world)
    optimizer = optimizer_for(model, cfg)

    check_run_folder(out, cfg.resume, cfg.overwrite, remove=False)        # refused before anything is made
    lock = hold_lock(out / LOCK, "pretrain") if rank == 0 else None     # one run writes into --out at a time
    try:                                                                # released on every way out (a refusal too)
        check_run_folder(out, cfg.resume, cfg.overwrite, remove=rank == 0)   # under the lock: its run files are ours
        prepared = data.report
        dataset_id = data.identity
        start_epoch, skip, step, earlier_s = 0, 0, 0, 0.0
        if cfg.resume:
            state, meta = checkpoint.load(ckpt_dir / "latest.pt", map_location=device, for_resume=True)
            saved = GLTConfig.from_dict(meta["model_config"], str(ckpt_dir / "latest.pt")).to_dict()
            differ = [k for k, v in mcfg.to_dict().items() if saved[k] != v and k != "init"]   # init: the weights load
            if differ:
                raise ValueError(f"{ckpt_dir / 'latest.pt'} holds a different model config than this run asks for "
                                 f"({', '.join(f'{k}: {saved[k]} there, {mcfg.to_dict()[k]} here' for k in differ)}); "
                                 f"use another --out")
            mcfg = model.cfg = replace(mcfg, init=saved["init"])          # as the run began (a run from before the field)
            was_id = (("dataset identity", meta["dataset_identity"], dataset_id) if meta["dataset_identity"] else
                      ("dataset (manifest sha256)", meta["dataset_manifest_sha256"], prepared.files["manifest.parquet"]))
            for what, was, now in (was_id, ("benchmark", meta.get("benchmark"), cfg.benchmark)):
                if was != now:
                    raise ValueError(f"--resume: {ckpt_dir / 'latest.pt'} was trained on {what} {str(was)[:16]}, this "
                                     f"run asks for {str(now)[:16]}: resume on the same --data and --benchmark, or use "
                                     f"another --out")
            if meta.get("precision", precision) != precision:
                raise ValueError(f"this run was trained in {meta['precision']}; resume with --precision {meta['precision']} "
                                 f"(now: {precision}, {precision_why})")
            if meta["loader"]["workers"] != cfg.workers or meta["world_size"] != world:
                raise ValueError(f"resume with the same loader layout as before (--workers {meta['loader']['workers']}, "
                                 f"{meta['world_size']} process(es)): the batch order depends on it")
            ran = dict(meta.get("run_config") or {})
            ran["epochs"] = meta.get("epochs_total") or ran.get("epochs") or variant.info.pretrain_epochs   # resolved
            if cfg.epochs is None:
                epochs = ran["epochs"]                                      # no --epochs: the run's own, not the default
            changed = [k for k in RESUME_SAME if k in ran and ran[k] != getattr(cfg, k)]
            changed += ["epochs"] if cfg.schedule == "cosine" and ran["epochs"] != epochs else []   # the cosine's length
            if changed:
                raise ValueError("--resume: this run was trained with " + ", ".join(
                    f"--{k.replace('_', '-')} {ran[k]}" for k in changed) + ": resume with the same values (the batch "
                    "order and the lr schedule depend on them), or start another run")
            if meta["loader"]["epoch"] >= epochs:
                raise ValueError(f"--resume: the run has trained {meta['loader']['epoch']} epochs of {epochs}: nothing is "
                                 f"left" + (" (its cosine schedule has ended: start another run)" if cfg.schedule == "cosine"
                                            else "; give a larger --epochs to train on"))
            if cfg.max_steps is not None and meta["step"] >= cfg.max_steps:
                raise ValueError(f"--resume: the run has taken {meta['step']} steps already: give a larger --max-steps "
                                 f"to train on")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"]["torch"])
            if device.type == "cuda" and state["rng"]["cuda"]:
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])
            start_epoch, skip, step = meta["loader"]["epoch"], meta["loader"]["batch"], meta["step"]
            earlier_s = meta.get("train_s", 0.0)                 # training time of the sessions before this one

        net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
        forward = torch.compile(net) if compiled else net
        main = rank == 0
        base_meta = {"model_config": mcfg.to_dict(), "run_config": asdict(replace(cfg, data=str(cfg.data))),
                     "epochs_total": epochs, "dataset": variant.dataset,
                     "benchmark": cfg.benchmark, "variant": variant.to_dict(),
                     "dataset_identity": dataset_id, "git_commit": checkpoint.git_commit(),
                     "world_size": world, "precision": precision, "precision_why": precision_why,
                     "compile": compiled, "compile_why": compile_why,
                     "cpu_policy": resources.policy()}
        log = RunLog(out, main, epochs * len(loader), step, start_epoch, earlier_s, skip)

        def save(name: str, epoch: int, batch: int) -> None:
            """latest.pt is full (what --resume needs); epoch-NNNN.pt holds the weights only (what evaluation needs)."""
            if main:
                checkpoint.save(ckpt_dir, name, model, optimizer if name == "latest" else None,
                                {**base_meta, "epoch": epoch, "step": step, "train_s": log.elapsed(),
                                 "loader": {"epoch": epoch, "batch": batch, "workers": cfg.workers}})

        def should_stop(step: int) -> bool:                      # every rank stops at the same step
            out_of_time = cfg.time_budget_s is not None and any_rank(log.elapsed() - earlier_s > cfg.time_budget_s, device)
            return (cfg.max_steps is not None and step >= cfg.max_steps) or out_of_time

        # ------------------------------------------------------------------ the training loop
        objective = functools.partial(mpdp_objective, forward, intervals=mcfg.intervals, trajectory_tokens=trajectory_tokens,
                                      weight_all=cfg.trajectory_weight_all, precision=precision)     # (motion, mask) -> loss
        model.train()
        stopped = False
        with log:
            for epoch in range(start_epoch, epochs):
                batch_index, window_samples, window_start = skip, 0, time.perf_counter()
                for batch in loader.epoch(epoch, skip):
                    lr = pretrain_lr(cfg.lr, step, epoch, len(loader), epochs, cfg.schedule, cfg.lr_decay, cfg.warmup_epochs)
                    motion = batch["motion"].to(device, non_blocking=True)       # [B, T, P, K, 3]
                    mask = batch["mask"].to(device, non_blocking=True)           # [B, T]
                    loss, terms = objective(motion, mask)
                    if not torch.isfinite(loss):                                 # stop before anything is saved
                        raise FloatingPointError(f"non-finite loss {loss.item()} at epoch {epoch}, batch {batch_index}, "
                                                 f"{culprits(objective, batch, device)}: training stopped; "
                                                 f"the last checkpoint in {ckpt_dir} is the last good one")
                    optimizer_step(optimizer, loss, lr)
                    step, batch_index = step + 1, batch_index + 1
                    window_samples += len(motion) * world
                    stopped = should_stop(step)
                    if step % cfg.log_every == 0 or batch_index == len(loader) or stopped:
                        resources.adjust()                                       # neighbours came or went: re-choose threads
                        log.record(step, epoch, batch_index, loss, terms, mcfg.intervals, lr,
                                   window_samples / (time.perf_counter() - window_start), device)
                        window_samples, window_start = 0, time.perf_counter()
                    log.advance(epoch)
                    if stopped:
                        break
                # ---------------------------------------------------------- the epoch's end: checkpoints
                resources.release_memory()
                log.epoch_end(*((epoch, batch_index) if batch_index < len(loader) else (epoch + 1, 0)), device)
                if stopped and batch_index < len(loader):                       # mid-epoch: resumes at this batch
                    save("latest", epoch, batch_index)
                    break
                skip = 0
                if (epoch + 1) % cfg.latest_every == 0 or epoch + 1 == epochs or stopped:
                    save("latest", epoch + 1, 0)
                if (epoch + 1) % cfg.save_every == 0 or epoch + 1 == epochs:
                    save(f"epoch-{epoch + 1:04d}", epoch + 1, 0)
                if stopped:
                    stopped = epoch + 1 < epochs                                # stopped on the last step: not early
                    break

        final_loss = log.last_loss if math.isfinite(log.last_loss) else None          # NaN: no step was logged
        summary = {"steps": step, "final_loss": final_loss, "wall_s": log.elapsed(),
                   "checkpoint": str(ckpt_dir / "latest.pt"), "precision": precision,
                   "precision_why": precision_why, "compile": compiled, "compile_why": compile_why, "device": str(device),
                   "stopped_early": stopped,
                   "checkpoint_bytes": {p.name: p.stat().st_size for p in sorted(ckpt_dir.glob("*.pt"))} if main else {},
                   "cpu_policy": resources.policy()}                            # at the end: threads re-chosen on the way
        if main:
            with atomic_file(out / "pretrain.json") as tmp:
                tmp.write_text(json.dumps({**base_meta, **summary}, indent=1) + "\n")
    finally:
        if lock is not None:
            lock.release()
    finish_distributed()
    return summary
