"""examples/stgcn_nwucla.py: stand-alone (no gltr import) and trains on our shards at a tiny size."""
import ast
import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stgcn_nwucla.py"


def test_the_example_imports_only_torch_numpy_and_webdataset():
    tree = ast.parse(EXAMPLE.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported - {"argparse", "json", "math", "time", "pathlib"} == {"numpy", "torch", "webdataset"}


def test_the_example_trains_on_prepared_nwucla_shards(tmp_path):
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.synth import synth_nwucla
    synth_nwucla(tmp_path / "raw", 300, seed=0)      # views 1, 2, 3: 100 each
    prepare("nwucla", tmp_path / "raw", tmp_path / "data", log=lambda line: None)
    result = subprocess.run([sys.executable, str(EXAMPLE), "--data", str(tmp_path / "data"), "--epochs", "2",
                             "--width", "4", "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    r = json.loads((tmp_path / "run/result.json").read_text())
    views = json.loads((tmp_path / "data/shards/view/test.json").read_text())["num_samples"]
    assert r["test_samples"] == views and r["train_samples"] == 300 - views == 200
    assert len(r["log"]) == 2 * 2 and 0 <= r["test_top1_final_epoch"] <= 100           # 2 streams x 2 epochs
    assert sorted(r["test_top1_per_stream"]) == ["bone", "ensemble", "joint"]           # the default: two streams
    assert r["test_top1_final_epoch"] == r["test_top1_per_stream"]["ensemble"]
    assert [e["stream"] for e in r["log"]] == ["joint", "joint", "bone", "bone"]
    assert f"test top-1 {r['test_top1_final_epoch']:.1f} %" in result.stdout
    import pyarrow.parquet as pq
    m = pq.read_table(tmp_path / "data/manifest.parquet").to_pydict()
    train_ids = [i for i, s in zip(m["sample_id"], m["split_view"]) if s == "train"]
    (tmp_path / "held.txt").write_text("\n".join(train_ids[::10]) + "\n")
    result = subprocess.run([sys.executable, str(EXAMPLE), "--data", str(tmp_path / "data"), "--epochs", "1",
                             "--width", "4", "--validation", str(tmp_path / "held.txt"), "--rotate", "30",
                             "--streams", "joint", "--out", str(tmp_path / "val")],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    r = json.loads((tmp_path / "val/result.json").read_text())
    assert r["scored_on"] == "validation" and r["validation_samples"] == 20 and r["train_samples"] == 180
    assert r["validation_top1_per_stream"]["joint"] == r["validation_top1_final_epoch"]      # one stream: itself
    assert [e["stream"] for e in r["log"]] == ["joint"]


def load_example():
    import importlib.util
    spec = importlib.util.spec_from_file_location("stgcn_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def test_bones_are_each_joint_minus_its_parent():
    import torch
    example = load_example()
    parent = example.parents()
    assert parent[example.CENTRE] == example.CENTRE
    assert sorted(tuple(sorted(p)) for p in zip(range(20), parent) if p[0] != p[1]) == sorted(
        tuple(sorted(b)) for b in example.BONES)                                    # one parent per bone
    x = torch.randn(2, 3, 6, 20)
    x[:, :, 4:] = 0                                                                 # two padded frames
    bones = example.as_stream(x, "bone")
    for j, p in enumerate(parent):
        expected = torch.zeros_like(x[..., j]) if j == example.CENTRE else (
            x[..., j] if p == example.CENTRE else x[..., j] - x[..., p])         # the centre slot is the trajectory
        assert torch.equal(bones[..., j], expected), j
    assert torch.equal(bones[:, :, 4:], torch.zeros_like(bones[:, :, 4:]))
    assert example.as_stream(x, "joint") is x


def test_rotation_turns_about_the_vertical_axis_only():
    import numpy as np
    import torch
    example = load_example()
    x = torch.randn(3, 3, 5, 20)
    y = example.rotate_y(x, np.radians([0.0, 90.0, -45.0]))
    assert torch.allclose(y[0], x[0]) and torch.equal(y[:, 1], x[:, 1])             # y (up) untouched
    assert torch.allclose(y.norm(dim=1), x.norm(dim=1), atol=1e-5)                   # lengths kept
    assert torch.allclose(y[1, 0], x[1, 2], atol=1e-6) and torch.allclose(y[1, 2], -x[1, 0], atol=1e-6)


def test_an_unknown_stream_is_refused_before_any_work(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLE), "--data", str(tmp_path / "none"), "--streams", "joint,velocity"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "--streams: joint and/or bone, not 'joint,velocity'" in result.stderr
