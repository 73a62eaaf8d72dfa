"""Every file gltr reads under one contract (gltr/records.py), one dataset identity, no stale result shown as
current, evaluations that write only where they should (issue: reliability round three). Each test reproduces
a finding; synthetic data only."""
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from gltr import records
from gltr.pipeline.prepare import prepare
from gltr.train import checkpoint
from helpers import copy_of, gltr, one_error_line

TRAIN = ["--preset", "tiny", "--epochs", "1", "--workers", "0", "--batch-size", "8"]


# ----------------------------------------------------------------------------- 2. one dataset identity

@pytest.fixture(scope="module")
def per_frame(synth_ntu_raw, tmp_path_factory) -> Path:
    """The fixture's raw files prepared again with the other rotation rule: same manifest, other shards."""
    out = tmp_path_factory.mktemp("per_frame") / "ntu120"
    prepare("ntu120", synth_ntu_raw, out, shard_size=16, rotation="per-frame", log=lambda line: None)
    return out


def test_another_rotation_is_another_dataset(synth_ntu_prepared, per_frame, tiny_run, tmp_path):
    from gltr.train.evaluate import KnnConfig, knn_eval
    from gltr.train.prepared import PreparedData
    from gltr.train.pretrain import PretrainConfig, train
    a, b = (json.loads((d / "prepare.json").read_text()) for d in (synth_ntu_prepared, per_frame))
    assert a["files"]["manifest.parquet"] == b["files"]["manifest.parquet"]          # what the old hash covered
    assert PreparedData(synth_ntu_prepared).identity != PreparedData(per_frame).identity
    ckpt = str(tiny_run / "checkpoints/latest.pt")
    first = knn_eval(KnnConfig(data=str(synth_ntu_prepared), benchmark="xsub", checkpoint=ckpt, out=str(tmp_path / "e"),
                               workers=0))
    second = knn_eval(KnnConfig(data=str(per_frame), benchmark="xsub", checkpoint=ckpt, out=str(tmp_path / "e"),
                                workers=0))
    caches = sorted((tmp_path / "e/eval").glob("features-*-train.pt"))
    assert len(caches) == 2                                                  # the second did not reuse the first's
    fresh = knn_eval(KnnConfig(data=str(per_frame), benchmark="xsub", checkpoint=ckpt, out=str(tmp_path / "f"),
                               workers=0))
    assert second["top1"] == fresh["top1"] and second["dataset_identity"] != first["dataset_identity"]
    run = tmp_path / "run"
    common = dict(benchmark="xsub", out=str(run), preset="tiny", epochs=2, batch_size=8, workers=0)
    train(PretrainConfig(data=str(synth_ntu_prepared), max_steps=2, **common))
    with pytest.raises(ValueError, match="was trained on dataset identity"):
        train(PretrainConfig(data=str(per_frame), resume=True, **common))


# ----------------------------------------------------------------------------- 3. no stale result shown as current

def test_overwrite_clears_eval_and_report_leaves_out_stale_results(synth_ntu_prepared, tmp_path):
    from gltr.train.evaluate import LinearConfig, linear_eval
    from gltr.train.pretrain import PretrainConfig, train
    from gltr.analysis.report import collect
    run = tmp_path / "run"
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", out=str(run), preset="tiny", epochs=1, batch_size=8,
                  workers=0)
    train(PretrainConfig(**common))
    linear_eval(LinearConfig(data=str(synth_ntu_prepared), benchmark="xsub", checkpoint=str(run / "checkpoints/latest.pt"),
                             epochs=2, workers=0))
    (run / "eval/notes.txt").write_text("mine")
    assert [r["file"] for r in collect([run])] == ["linear-xsub.json"]
    train(PretrainConfig(overwrite=True, seed=1, **common))                   # started again: other weights
    assert sorted(p.name for p in (run / "eval").iterdir()) == [".lock", "notes.txt"]   # results and caches went
    stale = tmp_path / "stale.json"                                          # an old result put back by hand
    linear_eval(LinearConfig(data=str(synth_ntu_prepared), benchmark="xsub", epochs=2, workers=0,
                             checkpoint=str(run / "checkpoints/latest.pt"), out=str(tmp_path / "other")))
    shutil.copy(tmp_path / "other/eval/linear-xsub.json", stale)
    result = json.loads(stale.read_text())
    (run / "eval/linear-xsub.json").write_text(json.dumps({**result, "checkpoint_sha256": "0" * 64}))
    left = []
    assert collect([run], left) == [] and len(left) == 1 and "no longer in" in left[0][1]
    r = gltr("report", run)
    assert r.returncode == 2 and "left out: its checkpoint 000000000000 is no longer in" in r.stderr


# ----------------------------------------------------------------------------- 4. no read without a bound

def fifo(path: Path) -> Path:
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    return path


def test_a_fifo_or_device_in_place_of_a_json_file_or_checkpoint_never_hangs(synth_ntu_prepared, tiny_run, tmp_path):
    data = copy_of(synth_ntu_prepared, tmp_path)
    out = tmp_path / "x"
    commands = {"inspect": ["inspect", data], "mamp": ["export", "mamp", data, "--raw", tmp_path, "--out", out],
                "ctrgcn": ["export", "ctrgcn", data, "--out", out], "pyskl": ["export", "pyskl", data, "--out", out / "a.pkl"]}
    for make in (fifo, lambda p: (p.unlink(), p.symlink_to("/dev/zero"))):
        make(data / "prepare.json")
        for name, args in commands.items():
            line = one_error_line(gltr(*args, timeout=60), 2)
            assert "prepare.json" in line and "not a regular file" in line, (name, line)
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "eval").mkdir(exist_ok=True)
    fifo(run / "eval/linear-xsub.json")
    assert "not a regular file" in one_error_line(gltr("report", run, timeout=60), 2)
    (tmp_path / "checkpoints").mkdir()
    pt = fifo(tmp_path / "checkpoints/x.pt")
    line = one_error_line(gltr("knn", "--checkpoint", pt, "--data", synth_ntu_prepared, "--benchmark", "xsub",
                               timeout=60), 2)
    assert "x.pt: not a regular file" in line


# ----------------------------------------------------------------------------- 5. malformed contents

@pytest.mark.parametrize("text,says", [("{}", "dataset: Field required"), ("[]", "not a JSON object"),
                                       ("null", "not a JSON object"), ("{not json", "not valid JSON")])
def test_a_malformed_prepare_json_is_one_line_in_every_reader(synth_ntu_prepared, tmp_path, text, says):
    data = copy_of(synth_ntu_prepared, tmp_path)
    (data / "prepare.json").write_text(text)
    for args in (["inspect", data], ["export", "ctrgcn", data, "--out", tmp_path / "c"],
                 ["export", "mamp", data, "--raw", tmp_path, "--out", tmp_path / "m"],
                 ["export", "pyskl", data, "--out", tmp_path / "p.pkl"]):
        line = one_error_line(gltr(*args), 2)
        assert f"{data / 'prepare.json'}: {says}" in line, (args, line)


def test_a_split_name_from_prepare_json_never_becomes_a_key_or_path(synth_ntu_prepared, tmp_path):
    data = copy_of(synth_ntu_prepared, tmp_path)
    report = json.loads((data / "prepare.json").read_text())
    report["splits"]["../../evil; id"] = report["splits"]["xsub"]
    (data / "prepare.json").write_text(json.dumps(report))
    for args in (["inspect", data], ["export", "ctrgcn", data, "--out", tmp_path / "c"]):
        line = one_error_line(gltr(*args), 2)
        assert "splits" in line and "is not a valid benchmark name" in line


def forged(tiny_run: Path, folder: Path, change) -> Path:
    """A copy of the run's checkpoint whose meta is changed and whose digest is recomputed, as an attacker who
    controls the file would."""
    state = torch.load(tiny_run / "checkpoints/latest.pt", weights_only=True)
    meta = state.pop("meta")
    change(meta)
    meta["state_sha256"] = checkpoint.state_digest(state)
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.save({**state, "meta": meta}, folder / "checkpoints/latest.pt")
    return folder / "checkpoints/latest.pt"


@pytest.mark.parametrize("change,says", [
    (lambda m: m["model_config"].update(spatial_heads=0), "spatial_heads: Input should be greater than or equal to 1"),
    (lambda m: m["model_config"].update(dim="8"), "dim: Input should be a valid integer"),
    (lambda m: m.pop("model_config"), "model_config: Field required"),
    (lambda m: m["model_config"].update(depth=200000), "depth: Input should be less than or equal to 128"),
    (lambda m: m["model_config"].update(dim=4000, spatial_heads=1, temporal_heads=1), "GiB of weights"),
    (lambda m: m["model_config"].update(dim=9), "dim 9 is not divisible by spatial_heads 2"),
    (lambda m: m["model_config"].update(centre=99), "centre 99 is not one of the 25 joints"),
    (lambda m: m.update(loader={"epoch": -1}), "loader.epoch"),
])
def test_a_forged_checkpoint_meta_is_refused_before_anything_is_built(synth_ntu_prepared, tiny_run, tmp_path, change,
                                                                     says):
    pt = forged(tiny_run, tmp_path / "run", change)
    r = gltr("knn", "--checkpoint", pt, "--data", synth_ntu_prepared, "--benchmark", "xsub", timeout=120)
    line = one_error_line(r, 2)
    assert str(pt) in line and says in line, line


def test_every_preset_passes_the_model_config_check_and_its_size_is_exact():
    from gltr.model.gltransformer import PRESETS, count_parameters
    for name, preset in PRESETS.items():
        cfg = preset()
        records.check(cfg.to_dict(), records.ModelConfig, name)
        assert records.parameter_count(cfg) == count_parameters(cfg)["total"], name


# ----------------------------------------------------------------------------- 8. evaluations write where they should

def test_an_evaluation_writes_into_a_run_folder_only_when_the_checkpoint_is_in_one(synth_ntu_prepared, tiny_run,
                                                                                    tmp_path):
    models = tmp_path / "dl/models"
    models.mkdir(parents=True)
    shutil.copy(tiny_run / "checkpoints/latest.pt", models / "x.pt")
    for pt in (models / "x.pt", Path("/x.pt")):
        line = one_error_line(gltr("knn", "--checkpoint", pt, "--data", synth_ntu_prepared, "--benchmark", "xsub"), 2)
        assert "--out:" in line and "is not in a run's checkpoints/ folder" in line
    assert not (tmp_path / "dl/eval").exists()
    r = gltr("knn", "--checkpoint", models / "x.pt", "--data", synth_ntu_prepared, "--benchmark", "xsub", "--out",
             tmp_path / "mine")
    assert r.returncode == 0 and (tmp_path / "mine/eval/knn-xsub.json").is_file()


# ----------------------------------------------------------------------------- 9. a non-finite loss names its sample

def test_a_non_finite_loss_names_the_samples_that_caused_it(synth_ntu_raw, tmp_path, monkeypatch):
    from gltr.pipeline import sample
    from gltr.train.pretrain import PretrainConfig, train
    raw = tmp_path / "raw"
    shutil.copytree(synth_ntu_raw, raw)
    victim = next(p for p in sorted(raw.glob("*.skeleton")) 
                  if p.name[8:12] in ("P002", "P004", "P008"))             # training subjects of NTU-120 xsub
    lines = victim.read_bytes().split(b"\n")
    fields = lines[5].split(b" ")                                           # body 1, joint 1
    fields[0] = b"3e38"                                                     # finite in float32, not after the embedding
    lines[5] = b" ".join(fields)
    victim.write_bytes(b"\n".join(lines))
    monkeypatch.setattr(sample, "COORD_MAX_M", float("inf"))                # as before the bound: it prepares
    prepare("ntu120", raw, tmp_path / "data", shard_size=16, log=lambda line: None)
    with pytest.raises(FloatingPointError, match=f"from sample {victim.stem}") as e:
        train(PretrainConfig(data=str(tmp_path / "data"), benchmark="xsub", out=str(tmp_path / "run"), preset="tiny",
                             epochs=1, batch_size=60, workers=0, augment=False))
    assert len(str(e.value).splitlines()) == 1
