"""`make gpu-evidence QUICK=1`: the GPU script at tiny sizes, on CPU, with synthetic inputs (so it cannot rot)."""
import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.synth import synth_nwucla
    root = tmp_path_factory.mktemp("gpu_inputs")
    synth_nwucla(root / "raw", 240, seed=0)                 # views 1-3, so the view benchmark has a test split
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
    for section in ("throughput", "nwucla", "prepare", "compile"):
        assert "error" not in r[section], r[section]
    t = r["throughput"]
    fast, slow = t["bf16_bucketed_pad16"], t["fp32_padded_to_t_max"]
    assert fast["samples_per_s"] > 0 and slow["samples_per_s"] > 0
    assert fast["executed_tflops"] >= fast["useful_tflops"] > 0           # padding only adds work
    assert slow["executed_tflops"] > slow["useful_tflops"]                 # every length < 300 is padded
    assert t["fraction_of_bf16_peak_executed"] == pytest.approx(fast["executed_tflops"] / 790.0)
    assert t["projected_ntu60_xsub_pretraining_hours"] == pytest.approx(40091 * 120 / fast["samples_per_s"] / 3600)
    c = r["compile"]
    assert c["lengths"] and all(x["T"] % 16 == 0 and x["first_call_s"] > 0 and x["steady_samples_per_s"] > 0
                                for x in c["lengths"])
    u = r["nwucla"]
    assert set(u["top1"]) == {"pretrained", "random", "handcrafted"}
    assert all(0 <= v <= 100 for scores in u["top1"].values() for v in scores.values())
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
