import json
import subprocess
import sys
from pathlib import Path

GLTR = [sys.executable, "-m", "gltr.cli.main"]
ROOT = Path(__file__).resolve().parents[1]


def test_model_command_reports_the_preset_it_was_asked_for():
    from gltr.model.gltransformer import count_parameters, forward_gflops, small
    result = subprocess.run(GLTR + ["model", "--preset", "small", "--frames", "40", "--json"], capture_output=True, text=True)
    info = json.loads(result.stdout)
    assert {k: info[k] for k in ("encoder", "heads", "total")} == count_parameters(small())
    assert info["forward_gflops_per_sequence"] == round(forward_gflops(small(), 40), 3) and info["frames"] == 40
    assert info["config"] == small().to_dict() | {"intervals": [1, 5, 10]}
    result = subprocess.run(GLTR + ["model", "--preset", "small", "--frames", "51"], capture_output=True, text=True)
    assert result.returncode == 2 and "exceeds the preset's T_max 50" in result.stderr


def test_prepare_options_are_recorded_in_the_variant(tmp_path):
    from gltr.pipeline.synth import synth_ntu
    raw = tmp_path / "raw"
    synth_ntu(raw, 3, seed=0)
    out = tmp_path / "out"
    result = subprocess.run(GLTR + ["prepare", "ntu120", "--raw", str(raw), "--out", str(out), "--bodies", "denoise",
                                    "--rotation", "per-frame"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "prepare.json").read_text())
    assert report["variant"]["bodies"] == "denoise" and report["variant"]["rotation"] == "per-frame"
    assert report["counts"]["prepared"] == 3
    import zarr
    assert zarr.open_group(out / "store.zarr", mode="r").attrs["variant"]["bodies"] == "denoise"
    index = json.loads((out / "shards/xsub/train.json").read_text())
    assert index["variant"]["rotation"] == "per-frame"
    summary = json.loads(subprocess.run(GLTR + ["inspect", str(out), "--json"], capture_output=True, text=True).stdout)
    assert summary["variant"]["bodies"] == "denoise" and summary["counts"]["prepared"] == 3


def test_bodies_option_is_refused_for_nwucla(tmp_path):
    result = subprocess.run(GLTR + ["prepare", "nwucla", "--raw", str(tmp_path), "--bodies", "denoise"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "does not apply" in result.stderr and "Traceback" not in result.stderr


def test_evaluations_take_exactly_one_feature_source(tmp_path):
    for args in ([], ["--checkpoint", "x.pt", "--random-init"], ["--random-init", "--features", "handcrafted"]):
        result = subprocess.run(GLTR + ["linear", "--data", str(tmp_path), "--benchmark", "view", *args],
                                capture_output=True, text=True)
        assert result.returncode == 2 and "exactly one of" in result.stderr, result.stderr
    result = subprocess.run(GLTR + ["knn", "--data", str(tmp_path), "--benchmark", "view", "--features", "handcrafted"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "needs --out" in result.stderr


def test_every_option_of_every_command_has_help_text():
    """Walks the whole command tree (and the example script): an option whose help is empty or only
    '[default: …]' fails; every default shown must also be valid."""
    import re
    import typer
    from gltr.cli.main import app

    def walk(command, path=()):
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, path + (name,))
        if not hasattr(command, "commands"):
            yield " ".join(path), command

    root = typer.main.get_command(app)
    missing = [f"{path} {p.name}" for path, command in [("", root), *walk(root)] for p in command.params
               if not re.sub(r"\[default:[^\]]*\]", "", getattr(p, "help", None) or "").strip()]
    assert missing == []
    assert len(list(walk(root))) == 19                      # every command was walked (export: 3)
    import argparse
    import importlib.util
    spec = importlib.util.spec_from_file_location("stgcn", ROOT / "examples/stgcn_nwucla.py")
    captured = {}
    original = argparse.ArgumentParser.parse_args
    try:
        argparse.ArgumentParser.parse_args = lambda self, *a, **k: captured.setdefault("parser", self) and exit(0)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        try:
            module.main()
        except SystemExit:
            pass
    finally:
        argparse.ArgumentParser.parse_args = original
    parser = captured["parser"]
    assert parser.formatter_class is argparse.ArgumentDefaultsHelpFormatter       # --help shows the defaults
    assert [a.dest for a in parser._actions if not a.help] == []


def test_model_default_frames_are_valid_for_every_preset():
    for preset, t_max in (("ntu", 300), ("nwucla", 50), ("small", 50), ("tiny", 300)):
        result = subprocess.run(GLTR + ["model", "--preset", preset, "--json"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["frames"] == json.loads(result.stdout)["config"]["t_max"]


def test_a_missing_benchmark_names_the_ones_the_dataset_has(synth_ntu_prepared, tmp_path):
    result = subprocess.run(GLTR + ["linear", "--data", str(synth_ntu_prepared), "--benchmark", "xview",
                                    "--random-init", "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert result.returncode == 2 and "has no benchmark 'xview'; it has xset, xsub" in result.stderr


def test_prepare_refuses_an_existing_out_before_drawing_progress(synth_ntu_prepared, synth_ntu_raw):
    result = subprocess.run(GLTR + ["prepare", "ntu120", "--raw", str(synth_ntu_raw), "--out", str(synth_ntu_prepared)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert result.stderr.count("\n") == 1 and "prepare ntu120" not in result.stderr        # one line, no bar


def test_the_thread_policy_is_applied_by_the_commands_that_compute_only(synth_ntu_prepared, tmp_path, monkeypatch):
    from typer.testing import CliRunner
    from gltr import resources
    from gltr.cli.main import app
    from gltr.configs import PRESETS
    from gltr.model.gltransformer import PRESETS as MODEL_PRESETS
    assert PRESETS == tuple(MODEL_PRESETS)                   # the CLI's --preset choices are the model's presets
    applied = []
    monkeypatch.setattr(resources, "apply", lambda threads=None: applied.append(threads) or {})
    runner = CliRunner()
    res = runner.invoke(app, ["--threads", "1", "inspect", str(synth_ntu_prepared)])
    assert res.exit_code == 0 and applied == []              # reading a dataset: threads untouched
    res = runner.invoke(app, ["--threads", "1", "knn", "--features", "handcrafted", "--data", str(synth_ntu_prepared),
                              "--benchmark", "xsub", "--workers", "0", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert applied == [1]                                    # an evaluation: the policy, with --threads
    res = runner.invoke(app, ["knn", "--features", "handcrafted", "--data", str(synth_ntu_prepared),
                              "--benchmark", "xsub", "--workers", "0", "--out", str(tmp_path)], env={"GLTR_THREADS": ""})
    assert res.exit_code == 0 and applied == [1, None]       # without: the idle-CPU default


def test_seeds_presets_and_lists_are_checked_before_anything_trains(synth_ntu_prepared, tiny_run, tmp_path):
    from typer.testing import CliRunner
    from gltr.cli.main import app
    runner = CliRunner()
    ckpt = str(tiny_run / "checkpoints/latest.pt")
    common = ["--data", str(synth_ntu_prepared), "--benchmark", "xsub", "--out", str(tmp_path), "--epochs", "1"]
    cases = {("finetune", "--checkpoint", ckpt, "--seed", "1", "--seed", "1"): "--seed: 1 given twice",
             ("linear", "--checkpoint", ckpt, "--preset", "small"): "--preset: only with --random-init",
             ("semi", "--checkpoint", ckpt, "--percent", "5", "--seed", "0", "--seed", "99"): "seed99"}
    for args, why in cases.items():
        res = runner.invoke(app, [*args, *common])
        assert res.exit_code == 2 and why in res.output, (args, res.output)
    knn = runner.invoke(app, ["knn", "--checkpoint", ckpt, "--seed", "3", *common[:-2]])
    assert knn.exit_code == 2 and "--seed: only with --random-init" in knn.output
    assert not list(tmp_path.glob("eval/*.json"))                          # nothing ran, nothing written
