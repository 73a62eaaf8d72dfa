"""`make gpu-evidence QUICK=1`: the GPU script at tiny sizes, on CPU, with synthetic inputs (so it cannot rot)."""
import hashlib
import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.synth import synth_nwucla
    root = tmp_path_factory.mktemp("gpu_inputs")
    synth_nwucla(root / "raw", 300, seed=0)     # views 1-3 (a test split), subjects 1-10 (9 and 10: the validation list)
    prepare("nwucla", root / "raw", root / "inputs" / "nwucla", log=lambda line: None)
    (root / "inputs/ntu_lengths.json").write_text(json.dumps({"lengths": [40, 55, 61, 83, 97, 120, 150, 210]}))
    return root / "inputs"


def test_quick_mode_writes_every_section(inputs, tmp_path):
    result = subprocess.run([sys.executable, "-m", "gltr.bench.gpu_evidence", "--quick", "--inputs", str(inputs),
                             "--out", str(tmp_path), "--work", str(tmp_path / "work")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    r = json.loads((tmp_path / "gpu-evidence.json").read_text())
    assert r["quick"] and r["device"] == "cpu"
    for section in ("throughput", "training", "prepare", "compile"):
        assert "error" not in r[section], r[section]
    t = r["throughput"]
    fast, slow = t["bucketed_pad16"]["bf16-fp32-input"], t["fp32_padded_to_t_max"]
    for x in (fast, slow):                               # the same batches, each timed once after a warm-up
        assert x["samples_per_s"] == pytest.approx(x["samples"] / x["seconds"]) and x["seconds"] > 0
        assert (x["samples"], x["timed_steps"]) == (slow["samples"], slow["timed_steps"]) and x["samples"] >= x["timed_steps"]
    assert fast["executed_tflops"] >= fast["useful_tflops"] > 0           # padding only adds work
    assert slow["executed_tflops"] > slow["useful_tflops"]                 # every length < 300 is padded
    assert t["fraction_of_bf16_peak_executed"] == pytest.approx(fast["executed_tflops"] / 790.0)
    assert t["projected_ntu60_xsub_pretraining_hours"] == pytest.approx(40091 * 120 / fast["samples_per_s"] / 3600)
    c = r["compile"]
    assert c["lengths"] and all(x["T"] % 16 == 0 and x["first_call_s"] > 0 and x["steady_samples_per_s"] > 0
                                for x in c["lengths"])
    assert set(t["bucketed_pad16"]) == {"fp32", "tf32", "bf16", "bf16-fp32-input"}
    assert t["speedup_default_bucketed_vs_fp32_padded"] == pytest.approx(fast["samples_per_s"] / slow["samples_per_s"])
    u = r["training"]
    assert set(u["runs"]) == {"small-fp32-seed0", "small-bf16-seed0", "small-bf16-fp32-input-seed0",
                              "nwucla-fp32-seed0", "nwucla-bf16-fp32-input-seed0"}
    for name, run in u["runs"].items():
        assert "error" not in run, (name, run)
        assert run["epochs_done"] == 2 and not run["stopped_early"] and name.endswith(f"-{run['precision']}-seed0")
        assert all(0 <= run[k] <= 100 for k in run if k.startswith(("linear-", "knn-")))
        assert [row[0] for row in run["memory"]] == [2] and run["memory"][0][1] > 0     # RSS after the last epoch
    assert set(u["small_fp32_test"]["seed0"]) == {"linear-test", "knn-test", "knn1-test"}
    parts = u["small_fp32_test"]["checkpoint_parts"]
    whole = b"".join((tmp_path / p).read_bytes() for p in parts["parts"])
    assert len(whole) == parts["bytes"] and hashlib.sha256(whole).hexdigest() == parts["sha256"]
    assert set(u["nwucla_baselines"]) == {"random", "handcrafted"}
    p = r["prepare"]
    assert p["files"] == 40 and p["scaling_efficiency"]["1"] == 1.0 and set(p["files_per_s"]) == {"1", "2"}
    assert (tmp_path / "gpu-evidence.json").stat().st_size > 0


def test_forward_flops_formula_equals_the_counter():
    from gltr.bench.gpu_evidence import forward_flops_of
    from gltr.model.gltransformer import forward_gflops, ntu
    cfg = ntu()
    heads = 2 * cfg.width * cfg.tokens * (27 + 16) * 3
    f = forward_flops_of(cfg)
    for T in (17, 84, 300):
        assert f(T) == pytest.approx(forward_gflops(cfg, T) * 1e9 + heads * T, rel=1e-9)


def test_runs_that_did_not_finish_are_compared_at_the_last_epoch_they_all_reached(tmp_path, monkeypatch):
    from gltr.bench import gpu_training
    specs = []
    for name, done in (("a", 140), ("b", 67)):
        ckpts = tmp_path / name / "checkpoints"
        ckpts.mkdir(parents=True)
        for epoch in range(20, done + 1, 20):
            (ckpts / f"epoch-{epoch:04d}.pt").write_bytes(b"")
        specs.append({"name": name, "preset": "small", "seed": 0, "epochs": 140, "save_every": 20,
                      "out": str(tmp_path / name), "evals": [("linear", True)]})
    results = {"a": {"epochs_done": 140}, "b": {"epochs_done": 67}}
    seen = []
    monkeypatch.setattr(gpu_training, "probe", lambda kind, data, val, epochs, checkpoint: seen.append(checkpoint) or 50.0)
    out = gpu_training.common_epoch_probes(specs, results, tmp_path, None)
    assert out == {"small-seed0": {"epoch": 60, "a": {"linear-val": 50.0}, "b": {"linear-val": 50.0}}}
    assert [p.split("/")[-3:] for p in seen] == [["a", "checkpoints", "epoch-0060.pt"], ["b", "checkpoints", "epoch-0060.pt"]]
    assert gpu_training.common_epoch_probes(specs, {"a": {"epochs_done": 140}, "b": {"epochs_done": 140}}, tmp_path, None) == {}


def test_soak_verdict_is_relative_to_epoch_3():
    from gltr.bench.soak_bench import verdict
    growing = [109.0, 119.0, 129.0, 139.0]
    assert verdict(growing) == {"epoch3_mb": 129.0, "last_mb": 139.0, "worst_drift_from_epoch3": round(10 / 129, 4),
                                "flat": False}
    assert verdict([100.0, 150.0, 200.0, 205.0, 195.0])["flat"] is True       # the first two epochs do not count
