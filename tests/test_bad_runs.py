"""Runs that must not mix or go on silently: one run per folder, resume only onto its own data, no training on
nothing or on non-finite numbers, checkpoints and feature caches checked on load."""
import hashlib
import json
import os
import re

import pytest
import torch

from gltr.pipeline.prepare import prepare
from gltr.pipeline.synth import synth_ntu, synth_nwucla
from helpers import gltr, one_error_line


def test_a_lock_file_is_never_truncated_followed_or_taken_from_another(tmp_path):
    from gltr.safety import hold_lock
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    raw = tmp_path / "raw"
    synth_ntu(raw, 2, seed=0, classes=2)
    os.symlink(victim, tmp_path / "d.lock")                                   # ln -s victim.txt d.lock
    with pytest.raises(FileExistsError, match="symbolic link"):
        prepare("ntu120", raw, tmp_path / "d", log=lambda line: None)
    assert victim.read_text() == "precious" and not (tmp_path / "d").exists()
    (tmp_path / "e.lock").mkdir()
    with pytest.raises(FileExistsError, match="symbolic link or a folder"):
        prepare("ntu120", raw, tmp_path / "e", log=lambda line: None)
    (tmp_path / "f.lock").write_text("my notes")                              # a file gltr did not write
    with pytest.raises(FileExistsError, match="not a gltr lock file"):
        hold_lock(tmp_path / "f.lock", "prepare")
    assert (tmp_path / "f.lock").read_text() == "my notes"
    os.link(victim, tmp_path / "g.lock")                                      # a hard link to someone's file
    with pytest.raises(FileExistsError, match="not a gltr lock file"):
        hold_lock(tmp_path / "g.lock", "prepare")
    assert victim.read_text() == "precious"
    with hold_lock(tmp_path / "h.lock", "prepare"):                           # the holder is named
        with pytest.raises(FileExistsError, match=rf"another gltr prepare \(pid {os.getpid()}\)"):
            hold_lock(tmp_path / "h.lock", "prepare")
    hold_lock(tmp_path / "h.lock", "prepare").release()                        # free again


def test_two_runs_never_write_into_one_folder(synth_ntu_prepared, tmp_path):
    from gltr.safety import hold_lock
    run = tmp_path / "run"
    with hold_lock(run / ".lock", "pretrain"):                                 # a pretraining run is writing there
        r = gltr("pretrain", "--data", synth_ntu_prepared, "--benchmark", "xsub", "--preset", "tiny", "--epochs", "1",
                 "--workers", "0", "--out", run, "--overwrite")
        assert "another gltr pretrain" in one_error_line(r, 2)
    with hold_lock(tmp_path / "probe/eval/.lock", "evaluation"):               # an evaluation is writing there
        r = gltr("linear", "--random-init", "--preset", "tiny", "--data", synth_ntu_prepared, "--benchmark", "xsub",
                 "--epochs", "1", "--out", tmp_path / "probe")
        assert "another gltr evaluation" in one_error_line(r, 2)
    with hold_lock(tmp_path / "exp/.gltr-export.lock", "export"):
        r = gltr("export", "ctrgcn", synth_ntu_prepared, "--out", tmp_path / "exp")
        assert "another gltr export" in one_error_line(r, 2)


def test_resume_on_another_dataset_or_benchmark_is_refused(synth_ntu_prepared, tmp_path):
    from gltr.train.pretrain import PretrainConfig, train
    common = dict(benchmark="xsub", preset="tiny", epochs=2, batch_size=8, lr=1e-3, workers=0, out=str(tmp_path / "run"))
    train(PretrainConfig(data=str(synth_ntu_prepared), max_steps=2, **common))
    other = tmp_path / "other"
    synth_ntu(tmp_path / "raw2", 60, seed=9, classes=6)
    prepare("ntu120", tmp_path / "raw2", other, shard_size=16, log=lambda line: None)
    with pytest.raises(ValueError, match=r"was trained on dataset identity"):
        train(PretrainConfig(data=str(other), resume=True, **common))
    with pytest.raises(ValueError, match="was trained on benchmark xsub"):
        train(PretrainConfig(data=str(synth_ntu_prepared), resume=True, **{**common, "benchmark": "xset"}))


def test_an_empty_split_is_warned_about_and_refused_by_every_trainer(tmp_path):
    raw = tmp_path / "raw"
    synth_nwucla(raw, 30, seed=0, classes=3)
    for p in raw.iterdir():                                                    # keep only view 3: no training clip
        if not p.stem.endswith("_v03"):
            p.unlink()
    r = gltr("prepare", "nwucla", "--raw", raw, "--out", tmp_path / "data")
    assert r.returncode == 0 and "split view/train holds no sample" in r.stderr
    for command in (["pretrain", "--preset", "tiny", "--epochs", "1", "--workers", "0", "--out", tmp_path / "run"],
                    ["linear", "--random-init", "--epochs", "1", "--out", tmp_path / "p"],
                    ["knn", "--features", "handcrafted", "--out", tmp_path / "k"]):
        r = gltr(*command, "--data", tmp_path / "data", "--benchmark", "view")
        assert "holds no sample" in one_error_line(r, 2), command
    assert not (tmp_path / "run/checkpoints").exists()


def test_a_tampered_or_truncated_feature_cache_is_rebuilt(synth_ntu_prepared, tiny_run, tmp_path):
    import torch
    from gltr.train.evaluate import KnnConfig, knn_eval
    cfg = KnnConfig(data=str(synth_ntu_prepared), benchmark="xsub", checkpoint=str(tiny_run / "checkpoints/latest.pt"),
                    k=5, workers=0, out=str(tmp_path / "probe"))
    honest = knn_eval(cfg)["top1"]
    caches = sorted((tmp_path / "probe/eval").glob("features-*-train.pt"))
    assert len(caches) == 1
    cache = torch.load(caches[0], weights_only=True)
    cache["labels"] = cache["labels"][torch.randperm(len(cache["labels"]), generator=torch.Generator().manual_seed(0))]
    torch.save(cache, caches[0])                                               # shuffled labels
    assert knn_eval(cfg)["top1"] == honest
    caches[0].write_bytes(caches[0].read_bytes()[:1000])                       # truncated
    assert knn_eval(cfg)["top1"] == honest
    identity = torch.load(caches[0], weights_only=True)["identity"]
    report = json.loads((synth_ntu_prepared / "prepare.json").read_text())
    decides = {k: v for k, v in report["files"].items() if k == "manifest.parquet" or re.fullmatch(r"shards/.*\.json", k)}
    assert identity["dataset_identity"] == hashlib.sha256(json.dumps(
        {"variant": report["variant"], "files": decides}, sort_keys=True).encode()).hexdigest()


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(synth_ntu_prepared, tmp_path, monkeypatch):
    from gltr.train import pretrain
    real_loss, calls = pretrain.mpdp_loss, {"n": 0}

    def loss_that_breaks(*args, **kw):
        calls["n"] += 1
        value, terms = real_loss(*args, **kw)
        return (value * float("nan") if calls["n"] > 7 else value), terms     # epoch 0 has 5 batches of 8

    monkeypatch.setattr(pretrain, "mpdp_loss", loss_that_breaks)
    cfg = pretrain.PretrainConfig(data=str(synth_ntu_prepared), benchmark="xsub", out=str(tmp_path / "run"),
                                  preset="tiny", epochs=3, batch_size=8, lr=1e-3, workers=0)
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        pretrain.train(cfg)
    meta = json.loads((tmp_path / "run/checkpoints/latest.json").read_text())
    assert meta["loader"] == {"epoch": 1, "batch": 0, "workers": 0}          # saved after epoch 0, nothing later
    state = torch.load(tmp_path / "run/checkpoints/latest.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_run_folders_are_never_mixed_up(synth_ntu_prepared, tmp_path):
    from gltr.train.pretrain import PretrainConfig, train
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", out=str(tmp_path / "run"), preset="tiny", epochs=1,
                  batch_size=8, lr=1e-3, workers=0, max_steps=2)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):          # a mistyped --out does not start afresh
        train(PretrainConfig(resume=True, **common))
    (tmp_path / "run").mkdir()
    (tmp_path / "run/notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        train(PretrainConfig(**common))
    train(PretrainConfig(overwrite=True, **common))
    train(PretrainConfig(overwrite=True, **{**common, "max_steps": 1}))
    steps = [json.loads(l)["step"] for l in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert steps == [1]                                                     # no stale records appended
    assert (tmp_path / "run/notes.txt").read_text() == "mine"               # only a run's own files are replaced
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == ["latest.json", "latest.pt"]


def test_a_checkpoint_is_one_atomic_commit_and_is_checked_on_load(synth_ntu_prepared, tmp_path):
    import shutil
    from gltr.train import checkpoint
    from gltr.train.pretrain import PretrainConfig, train
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", preset="tiny", epochs=2, batch_size=8, lr=1e-3,
                  workers=0)
    train(PretrainConfig(out=str(tmp_path / "a"), max_steps=3, **common))
    ckpt = tmp_path / "a/checkpoints"
    stale = (ckpt / "latest.json").read_text()                       # step 3
    train(PretrainConfig(out=str(tmp_path / "a"), max_steps=6, resume=True, **common))
    (ckpt / "latest.json").write_text(stale)                          # a stop between the .pt and .json renames
    state, meta = checkpoint.load(ckpt / "latest.pt")
    assert meta["step"] == 6                                           # the .pt is the authority, not the stale mirror
    # resuming from it continues from step 6, not 3: no epoch is replayed
    train(PretrainConfig(out=str(tmp_path / "a"), max_steps=8, resume=True, **common))
    steps = [json.loads(l)["step"] for l in (tmp_path / "a/metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 8
    # a damaged .pt whose mirror names the same step is refused with a clear error
    shutil.copy(ckpt / "latest.pt", tmp_path / "copy.pt")
    good = (ckpt / "latest.pt").read_bytes()
    for at, message in ((len(good) // 2, "digest"), (len(good) - 100, "cannot be read")):   # in a tensor; in the zip index
        data = bytearray(good)
        data[at] ^= 0xFF
        (ckpt / "latest.pt").write_bytes(bytes(data))
        with pytest.raises(ValueError, match=message):
            checkpoint.load(ckpt / "latest.pt")
        (ckpt / "latest.json").rename(tmp_path / "mirror.json")       # the check does not depend on the mirror
        with pytest.raises(ValueError, match=message):
            checkpoint.load(ckpt / "latest.pt")
        (tmp_path / "mirror.json").rename(ckpt / "latest.json")
    (ckpt / "latest.pt").write_bytes(good)
    # a checkpoint written before the meta moved into the .pt still loads, from its JSON
    state = torch.load(tmp_path / "copy.pt", weights_only=True)
    state.pop("meta")
    torch.save(state, ckpt / "old.pt")
    (ckpt / "old.json").write_text((ckpt / "latest.json").read_text().replace(
        json.loads((ckpt / "latest.json").read_text())["weights_sha256"], checkpoint.sha256_file(ckpt / "old.pt")))
    assert checkpoint.load(ckpt / "old.pt")[1]["step"] == 8
    (ckpt / "old.json").unlink()                                       # ... and without that mirror it is refused
    with pytest.raises(FileNotFoundError, match="no meta inside"):
        checkpoint.load(ckpt / "old.pt")


def test_resume_is_refused_when_it_could_not_be_exact_or_has_nothing_to_do(synth_ntu_prepared, tmp_path):
    """A finished run, a --max-steps already reached, or another batch size, seed or lr: refused, the run's files
    untouched (a finished run once resumed into a NaN final loss that no command could read back)."""
    from gltr.train.data import LoaderConfig, ShardLoader
    from gltr.train.pretrain import PretrainConfig, train
    batches = len(ShardLoader(synth_ntu_prepared, "xsub", "train", LoaderConfig(batch_size=8, workers=0)))
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", preset="tiny", batch_size=8, workers=0, lr=1e-3)
    out = tmp_path / "run"
    summary = train(PretrainConfig(out=str(out), epochs=2, max_steps=2 * batches, save_every=5, **common))
    assert not summary["stopped_early"] and summary["steps"] == 2 * batches          # stopped on its last step
    assert (out / "checkpoints/epoch-0002.pt").is_file()                          # the final epoch's weights too
    before = (out / "pretrain.json").read_bytes()
    for extra, why in (({"epochs": 2}, "trained 2 epochs of 2: nothing is left"), ({"epochs": 3, "max_steps": 2 * batches}, "steps already"),
                       ({"epochs": 3, "batch_size": 4}, "--batch-size 8"), ({"epochs": 3, "seed": 1}, "--seed 0"),
                       ({"epochs": 3, "lr": 5e-4}, "--lr 0.001")):
        with pytest.raises(ValueError, match=f"^--resume: .*{re.escape(why)}"):
            train(PretrainConfig(out=str(out), resume=True, **{**common, **extra}))
    assert (out / "pretrain.json").read_bytes() == before
    resumed = train(PretrainConfig(out=str(out), resume=True, epochs=3, **common))      # more epochs: goes on
    assert resumed["steps"] == 3 * batches and json.loads((out / "pretrain.json").read_text())["final_loss"] > 0


def test_a_stop_at_the_end_of_an_earlier_epoch_resumes_at_the_next_one(synth_ntu_prepared, tmp_path):
    from gltr.train import checkpoint
    from gltr.train.data import LoaderConfig, ShardLoader
    from gltr.train.pretrain import PretrainConfig, train
    batches = len(ShardLoader(synth_ntu_prepared, "xsub", "train", LoaderConfig(batch_size=8, workers=0)))
    summary = train(PretrainConfig(data=str(synth_ntu_prepared), benchmark="xsub", preset="tiny", batch_size=8,
                                   workers=0, out=str(tmp_path), epochs=3, latest_every=5, max_steps=batches))
    assert summary["stopped_early"] and summary["steps"] == batches
    meta = checkpoint.load_meta(tmp_path / "checkpoints/latest.pt")
    assert (meta["loader"]["epoch"], meta["loader"]["batch"], meta["step"]) == (1, 0, batches)


def test_a_resume_logs_each_step_once(synth_ntu_prepared, tmp_path):
    """Steps logged after the last checkpoint (an interrupted run with --latest-every > 1) are trained again on
    resume: their first records go, so metrics.jsonl holds every step once."""
    from gltr.train.pretrain import PretrainConfig, train
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", preset="tiny", batch_size=8, workers=0, epochs=2,
                  log_every=1, out=str(tmp_path))
    train(PretrainConfig(max_steps=2, **common))
    with open(tmp_path / "metrics.jsonl", "a") as f:                      # as if it ran on past its checkpoint
        f.write(json.dumps({"step": 3, "epoch": 0, "batch": 3, "loss": 9.0}) + "\n")
    train(PretrainConfig(max_steps=4, resume=True, **common))
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
