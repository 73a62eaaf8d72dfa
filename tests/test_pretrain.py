import json
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gltr.train.pretrain import PretrainConfig, train


def losses(run: Path) -> list:
    return [json.loads(l)["loss"] for l in (run / "metrics.jsonl").read_text().splitlines()]


def test_loss_decreases_on_synthetic_data(synth_ntu_prepared, tmp_path):
    summary = train(PretrainConfig(data=str(synth_ntu_prepared), benchmark="xsub", out=str(tmp_path / "run"),
                                   preset="tiny", epochs=8, batch_size=8, lr=1e-3, workers=0, log_every=1))
    curve = losses(tmp_path / "run")
    assert summary["steps"] == len(curve) == 8 * 5
    assert sum(curve[-10:]) / 10 < 0.7 * sum(curve[:3]) / 3, curve   # ~18.2 at chance (3 x (ln 27 + ln 16))
    meta = json.loads((tmp_path / "run/checkpoints/latest.json").read_text())
    assert meta["loader"] == {"epoch": 8, "batch": 0, "workers": 0} and meta["step"] == 40
    assert meta["model_config"]["persons"] == 2 and meta["dataset"] == "ntu120"
    assert len(meta["dataset_identity"]) == 64
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", meta["git_commit"]), meta["git_commit"]   # "unknown" fails
    assert (tmp_path / "run/checkpoints/epoch-0008.pt").exists()
    assert list((tmp_path / "run/tb").iterdir())


def test_epoch_checkpoints_hold_weights_only_and_cannot_resume(synth_ntu_prepared, tmp_path):
    from gltr.train import checkpoint
    from gltr.train.evaluate import LinearConfig, linear_eval
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", preset="tiny", epochs=2, batch_size=8, lr=1e-3,
                  workers=0, save_every=1)
    summary = train(PretrainConfig(out=str(tmp_path / "run"), **common))
    ckpt = tmp_path / "run/checkpoints"
    full, _ = checkpoint.load(ckpt / "latest.pt")
    weights, meta = checkpoint.load(ckpt / "epoch-0002.pt")
    assert set(full) == {"model", "optimizer", "rng"} and set(weights) == {"model"} and meta["contents"] == "weights"
    assert all(torch.equal(full["model"][k], weights["model"][k]) for k in full["model"])   # the same final weights
    sizes = summary["checkpoint_bytes"]
    assert sizes == {p.name: p.stat().st_size for p in ckpt.glob("*.pt")} and len(sizes) == 3
    assert sizes["epoch-0002.pt"] < 0.5 * sizes["latest.pt"]          # AdamW's two moments are not in it
    # evaluation reads a weights-only file; resuming from one is refused
    r = linear_eval(LinearConfig(data=common["data"], benchmark="xsub", checkpoint=str(ckpt / "epoch-0001.pt"),
                                 epochs=2, workers=0, out=str(tmp_path / "probe")))
    assert 0 <= r["top1"] <= 100
    (ckpt / "epoch-0002.pt").replace(ckpt / "latest.pt")
    with pytest.raises(ValueError, match="holds weights only"):
        train(PretrainConfig(out=str(tmp_path / "run"), resume=True, **{**common, "epochs": 3}))


def test_resume_continues_exactly(synth_ntu_prepared, tmp_path):
    """Stopped mid-epoch and resumed under warm-up + cosine, whose lr changes every step."""
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", preset="tiny", epochs=3, batch_size=8,
                  lr=1e-3, workers=0, log_every=1, schedule="cosine", warmup_epochs=1)
    train(PretrainConfig(out=str(tmp_path / "straight"), max_steps=9, **common))
    train(PretrainConfig(out=str(tmp_path / "split"), max_steps=3, **common))      # stops mid-epoch 0
    meta = json.loads((tmp_path / "split/checkpoints/latest.json").read_text())
    assert meta["loader"]["epoch"] == 0 and meta["loader"]["batch"] == 3
    train(PretrainConfig(out=str(tmp_path / "split"), max_steps=9, resume=True, **common))
    a = torch.load(tmp_path / "straight/checkpoints/latest.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "split/checkpoints/latest.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert losses(tmp_path / "straight") == losses(tmp_path / "split")
    lrs = [json.loads(l)["lr"] for l in (tmp_path / "split/metrics.jsonl").read_text().splitlines()]
    assert lrs[:5] == [pytest.approx(1e-3 * s / 5) for s in range(1, 6)]       # 5 steps per epoch: warm-up
    assert lrs[5:] == [pytest.approx(5e-4 * (1 + math.cos(math.pi * s / 10))) for s in range(4)]   # cosine over 10


def test_torchrun_two_cpu_ranks(synth_ntu_prepared, tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as s:                       # a free port, not a fixed one another run may hold
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", str(port),
                             str(Path(__file__).parent / "ddp_check.py"), str(synth_ntu_prepared), str(out)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["batches"] == ranks[1]["batches"]
    from gltr.pipeline.inspect import summarize
    train_count = summarize(synth_ntu_prepared)["splits"]["xsub"]["train"]
    for epoch in ("0", "1"):
        a, b = ranks[0]["seen"][epoch], ranks[1]["seen"][epoch]
        assert not set(a) & set(b) and len(a) + len(b) == train_count
    curve = losses(out)
    assert len(curve) == 2 * ranks[0]["batches"]
    # every rank ran the same steps and saw the same (rank-averaged) final loss; rank 0 alone wrote the run
    assert ranks[0]["summary"]["steps"] == ranks[1]["summary"]["steps"] == 2 * ranks[0]["batches"]
    assert ranks[0]["summary"]["final_loss"] == ranks[1]["summary"]["final_loss"] == curve[-1]
    meta = json.loads((out / "checkpoints/latest.json").read_text())
    assert meta["world_size"] == 2 and meta["loader"] == {"epoch": 2, "batch": 0, "workers": 0}


def test_a_few_steps_on_real_nwucla_shards(ucla_prepared, tmp_path):
    summary = train(PretrainConfig(data=str(ucla_prepared), benchmark="view", out=str(tmp_path / "u"),
                                   preset="tiny", epochs=1, batch_size=16, lr=1e-3, workers=0, max_steps=4, log_every=1))
    assert summary["steps"] == 4 and summary["stopped_early"]
    meta = json.loads((tmp_path / "u/checkpoints/latest.json").read_text())
    assert meta["model_config"]["persons"] == 1 and meta["model_config"]["joints"] == 20
    assert meta["model_config"]["centre"] == 2 and meta["model_config"]["t_max"] == 50


def test_a_run_resumes_after_its_presets_init_changed(synth_ntu_prepared, tmp_path, monkeypatch):
    """Runs begun before GLTConfig.init existed hold trunc_normal weights while ntu()/nwucla() now say "torch":
    the init only decides the first weights, so resuming keeps the run's own; a real difference is named."""
    from dataclasses import replace
    from gltr.model import gltransformer
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", out=str(tmp_path / "run"), preset="tiny",
                  batch_size=8, lr=1e-3, workers=0)
    train(PretrainConfig(epochs=1, **common))
    monkeypatch.setitem(gltransformer.PRESETS, "tiny", lambda: replace(gltransformer.tiny(), init="torch"))
    train(PretrainConfig(epochs=2, resume=True, **common))
    meta = json.loads((tmp_path / "run/checkpoints/latest.json").read_text())
    assert meta["step"] == 10 and meta["model_config"]["init"] == "trunc_normal"
    monkeypatch.setitem(gltransformer.PRESETS, "tiny", lambda: replace(gltransformer.tiny(), depth=3))
    with pytest.raises(ValueError, match="depth: 2 there, 3 here"):
        train(PretrainConfig(epochs=3, resume=True, **common))
