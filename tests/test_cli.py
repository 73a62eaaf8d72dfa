import json
import subprocess
import sys

GLTR = [sys.executable, "-m", "gltr.cli.main"]


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
