import json
import shutil
import subprocess
import sys

GLTR = [sys.executable, "-m", "gltr.cli.main"]


def test_model_command_prints_the_counts():
    result = subprocess.run(GLTR + ["model", "--preset", "ntu", "--json"], capture_output=True, text=True)
    info = json.loads(result.stdout)
    assert info["encoder"] == 198_883_200 and info["heads"] == 15_486_450
    assert 120 < info["forward_gflops_per_sequence"] < 126


def test_prepare_options_are_recorded_in_the_variant(real, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("S001C001P006R002A050", "S001C003P002R002A001", "S001C002P004R002A052"):
        shutil.copy(real / f"ntu_skeleton_hard/{name}.skeleton", raw)
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
