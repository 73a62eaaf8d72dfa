"""The field's protocols at CI size: fine-tuning (pretrained and from scratch), kNN-1 retrieval, semi 1 %,
transfer between datasets with the same joint layout, and `gltr report`'s field layout; on a synthetic
PKU-MMD set (every protocol end to end) and on real NW-UCLA (validation scoring)."""
import json
import math

import pytest
import torch
from typer.testing import CliRunner

from gltr.cli.main import app
from gltr.configs import FinetuneConfig, KnnConfig, LinearConfig, PretrainConfig, semi_config
from gltr.model.gltransformer import GLTConfig, GLTransformer
from gltr.pipeline import sample_lists
from gltr.pipeline.prepare import prepare
from gltr.pipeline.synth import synth_pku
from gltr.train.downstream import random_init_spec
from gltr.train.evaluate import knn_eval, linear_eval
from gltr.train.finetune import finetune_eval, param_groups
from gltr.train.schedule import lr_scale, pretrain_lr
from gltr.train.pretrain import train
from gltr.analysis.report import collect, field_table


@pytest.fixture(scope="module")
def pku(tmp_path_factory):
    """(raw, prepared, a one-epoch tiny() run pretrained on it) of a synthetic PKU-MMD Phase II set."""
    raw = tmp_path_factory.mktemp("pku_raw")
    synth_pku(raw, 15, seed=0, phase=2, classes=5)
    data = tmp_path_factory.mktemp("pku") / "pkummd2"
    prepare("pkummd2", raw, data, shard_size=16, log=lambda line: None)
    run = tmp_path_factory.mktemp("pku_run")
    train(PretrainConfig(data=str(data), benchmark="xsub", out=str(run), preset="tiny", epochs=1, batch_size=8,
                         lr=1e-3, workers=0))
    return raw, data, run


def test_lr_schedule_warms_up_then_follows_a_cosine():
    assert [lr_scale(s, 10, 2, "cosine") for s in (0, 1)] == [0.5, 1.0]
    assert lr_scale(2, 10, 2, "cosine") == 1.0 and lr_scale(6, 10, 2, "cosine") == pytest.approx(0.5)
    assert lr_scale(9, 10, 2, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 7 / 8)))
    assert lr_scale(9, 10, 0, "constant") == 1.0
    # pretraining: the authors' per-epoch decay, or warm-up + cosine by step over all epochs
    assert pretrain_lr(1e-3, 17, 3, 5, 10, "exp", 0.9, 0) == pytest.approx(1e-3 * 0.9 ** 3)
    assert pretrain_lr(1e-3, 4, 0, 5, 10, "cosine", 0.9, 1) == pytest.approx(1e-3)      # end of warm-up
    last = pretrain_lr(1e-3, 49, 9, 5, 10, "cosine", 0.9, 1)
    assert last == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 44 / 45)))


def test_layer_decay_gives_each_block_its_share():
    model = GLTransformer(GLTConfig(dim=8, depth=3, spatial_heads=2, temporal_heads=2, persons=1, joints=4,
                                    centre=0, t_max=8))
    head = torch.nn.Linear(model.cfg.width, 3)
    groups = param_groups(model, head, 1.0, 2.0, 0.5, 0.1)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert lr_of[id(named["embed_joint.weight"])] == 0.5 ** 4          # below block 0
    assert lr_of[id(named["blocks.0.ffn.0.weight"])] == 0.5 ** 3
    assert lr_of[id(named["blocks.2.ffn.0.weight"])] == 0.5
    assert lr_of[id(named["norm.weight"])] == 1.0 and lr_of[id(head.weight)] == 2.0
    assert decay_of[id(named["blocks.1.pos"])] == 0.0 and decay_of[id(named["norm.weight"])] == 0.0
    assert decay_of[id(named["blocks.1.ffn.0.weight"])] == 0.1 and decay_of[id(head.bias)] == 0.0
    assert not any(id(p) in lr_of for n, p in named.items() if n.startswith("head_"))   # MPDP heads stay out
    every = param_groups(model, head, 1.0, 2.0, 1.0, 0.1, decay_all=True)               # the semi recipe
    assert {g["weight_decay"] for g in every} == {0.1} and {g["lr"] for g in every} == {1.0, 2.0}


@pytest.fixture(scope="module")
def pku_results(pku, tmp_path_factory):
    """Every protocol run once on the synthetic PKU-MMD set: fine-tuning (pretrained and from scratch), kNN-1, the
    linear probe, and semi 1 % on lists made from the raw label and split files; each test below checks one."""
    raw, data, run = pku
    ckpt = str(run / "checkpoints" / "latest.pt")
    scratch_run = tmp_path_factory.mktemp("pku_scratch")
    quick = dict(epochs=2, batch_size=8, warmup_epochs=1)
    out = {"finetune": finetune_eval(FinetuneConfig(data=str(data), benchmark="xsub", checkpoint=ckpt, **quick)),
           "scratch": finetune_eval(FinetuneConfig(data=str(data), benchmark="xsub", out=str(scratch_run),
                                                   random_init=random_init_spec(data, "xsub", "tiny", 0), **quick)),
           "knn": knn_eval(KnnConfig(data=str(data), benchmark="xsub", checkpoint=ckpt, k=1, workers=0)),
           "linear": linear_eval(LinearConfig(data=str(data), benchmark="xsub", checkpoint=ckpt, epochs=3, workers=0))}
    # PKU-MMD's lists come from the raw label and split files (gltr manifests --pkummd2 RAW)
    out["lists"] = sample_lists.generate_pku("pkummd2", raw, data / "manifests" / "semi")   # into the dataset
    out["semi"] = finetune_eval(semi_config(str(data), "xsub", 1, seed=0, checkpoint=ckpt,
                                           epochs=2))
    out["runs"] = [run, scratch_run]
    return out


def test_finetune_on_pku_trains_on_every_training_sample(pku, pku_results):
    _, data, _ = pku
    r, scratch = pku_results["finetune"], pku_results["scratch"]
    assert r["evaluation"] == "finetune" and r["encoder"] == "pretrained" and r["split"] == "test"
    assert r["train_samples"] == json.loads((data / "prepare.json").read_text())["splits"]["xsub"]["train"]
    assert len(r["history"]) == 2 and all(math.isfinite(h["loss"]) for h in r["history"])
    assert 0 <= r["top1"] <= 100 and r["pretrained_on"] == "pkummd2" and r["transfer"] is False
    assert scratch["encoder"] == "random" and scratch["pretrained_on"] is None


def test_knn_and_linear_on_pku_write_their_results(pku, pku_results):
    _, _, run = pku
    assert pku_results["knn"]["k"] == 1 and (run / "eval" / "knn-xsub-k1.json").exists()
    lin = pku_results["linear"]
    assert lin["epochs"] == 3 and len(lin["history"]) == 3 and (run / "eval" / "linear-xsub.json").exists()


def test_semi_on_pku_uses_the_lists_made_from_the_raw_files(pku, pku_results):
    _, data, _ = pku
    assert "pkummd2/xsub/1pct_seed0.txt" in pku_results["lists"]
    names, _ = sample_lists.read_list("pkummd2", "xsub", 1, 0, data)
    assert len(names) == 5                                                    # one clip per class
    semi = pku_results["semi"]
    assert semi["evaluation"] == "semi" and semi["train_samples"] == 5 and sorted(semi["used_samples"]) == sorted(names)


def test_the_field_table_shows_every_protocol_beside_mamp(pku_results):
    table = field_table(collect(pku_results["runs"]))
    lines = {line.split(" | ")[0]: line for line in table.splitlines() if line.startswith("| ")}
    assert set(lines) >= {"| protocol", "| linear", "| kNN-1", "| semi 1 %", "| fine-tune"}
    r, scratch = pku_results["finetune"], pku_results["scratch"]
    assert f"{r['top1']:.1f} / {scratch['top1']:.1f} / –" in lines["| fine-tune"]
    assert "MAMP 53.8" in lines["| linear"]                                    # PKU-II xsub linear


def test_transfer_from_ntu_to_pku_and_a_refused_layout(pku, tiny_run, ucla_prepared, tmp_path):
    _, data, _ = pku
    ntu_ckpt = str(tiny_run / "checkpoints" / "latest.pt")
    out = str(tmp_path / "transfer")
    r = linear_eval(LinearConfig(data=str(data), benchmark="xsub", checkpoint=ntu_ckpt, epochs=2, workers=0, out=out))
    assert r["pretrained_on"] == "ntu120" and r["dataset"] == "pkummd2" and r["transfer"] is True
    f = finetune_eval(FinetuneConfig(data=str(data), benchmark="xsub", checkpoint=ntu_ckpt, epochs=1, batch_size=8,
                                     out=out))
    assert f["transfer"] is True
    assert "| transfer from ntu120: fine-tune |" in field_table(collect([tmp_path / "transfer"]))
    runner = CliRunner()
    res = runner.invoke(app, ["knn", "--checkpoint", ntu_ckpt, "--data", str(ucla_prepared), "--benchmark", "view",
                              "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert ("the checkpoint's joint layout (ntu120: 2 person(s) x 25 joints, centre 20, T_max 300) is not nwucla's "
            "(1 x 20, centre 2, T_max 50): it cannot transfer") in res.output


def test_finetune_cli_scores_on_validation_with_real_nwucla(ucla_prepared, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["finetune", "--random-init", "--preset", "tiny", "--out", str(tmp_path), "--data",
                              str(ucla_prepared), "--benchmark", "view", "--validation", "--epochs", "1",
                              "--batch-size", "64", "--seed", "0", "--seed", "1"])
    assert res.exit_code == 0, res.output
    one = json.loads((tmp_path / "eval" / "finetune-view-val-seed0-random.json").read_text())
    held = sample_lists.read_validation("nwucla", "view")[0]
    assert one["split"] == "validation" and one["test_samples"] == len(held)
    assert one["train_samples"] == 1020 - len(held)
    both = json.loads((tmp_path / "eval" / "finetune-view-val-random.json").read_text())
    assert both["seeds"] == [0, 1] and "± " in res.output
