"""--precision auto (bf16 on a CPU with native bf16), --compile auto and its padding, as recorded by a run."""
import json

import numpy as np
import pytest

from gltr.train import compiling, precision
from gltr.train.data import collate
from gltr.train.pretrain import PretrainConfig, train

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2 {extra}\nmodel name\t: x\n"


def test_native_bf16_is_detected_and_auto_is_fp32_where_no_policy_was_shown_at_parity(monkeypatch):
    with_bf16, without = CPUINFO.format(extra="avx512f avx512_bf16"), CPUINFO.format(extra="avx512f")
    assert precision.cpu_bf16_flag(with_bf16) == "avx512_bf16"
    assert precision.cpu_bf16_flag(CPUINFO.format(extra="amx_tile amx_bf16")) == "amx_bf16"
    assert precision.cpu_bf16_flag(without) is None and precision.cpu_bf16_flag("") is None
    assert precision.auto_precision("auto", "cpu", with_bf16)[0] == "fp32"          # parity not met: docs/training.md
    assert precision.auto_precision("auto", "cuda", without)[0] == "bf16-fp32-input"   # at parity on an H200
    monkeypatch.delitem(precision.AT_PARITY, "cuda")
    assert precision.auto_precision("auto", "cuda", without)[0] == "fp32"          # nowhere else without evidence
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.auto_precision("fp16", "cuda")
    assert precision.auto_precision("fp32", "cpu", with_bf16) == ("fp32", "asked for")
    assert precision.auto_precision("bf16", "cpu", with_bf16) == ("bf16", "asked for")
    assert "emulated" in precision.auto_precision("bf16", "cpu", without)[1]


def test_the_cli_offers_every_precision():
    from gltr.cli.common import Precision
    assert tuple(p.value for p in Precision) == precision.PRECISIONS == ("auto", *precision.FP32_INPUT)


def test_the_input_embeddings_run_in_fp32_under_autocast_with_bf16_fp32_input():
    import torch
    from gltr.model.gltransformer import GLTransformer, tiny
    torch.manual_seed(0)
    model = GLTransformer(tiny()).eval()                                            # no dropout
    motion, mask = torch.randn(2, 6, 2, 25, 3), torch.ones(2, 6, dtype=torch.bool)
    exact = model.embed(motion)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rounded = model.embed(motion)
        precision.apply(model, "bf16-fp32-input")
        kept = model.embed(motion)
    assert rounded.dtype == torch.bfloat16 and kept.dtype == torch.float32
    assert torch.equal(kept, exact) and not torch.equal(rounded.float(), exact)
    # the benchmarks' helper restores the model's own setting, also after a failure
    precision.apply(model, "bf16")
    d, m = precision.autocast_forward(model, motion, mask, "bf16-fp32-input", torch.device("cpu"))
    assert model.fp32_input is False and d.dtype == torch.bfloat16
    with pytest.raises(AssertionError):
        precision.autocast_forward(model, motion[:, :, :1], mask, "bf16-fp32-input", torch.device("cpu"))
    assert model.fp32_input is False


def test_compile_is_on_by_default_only_where_it_was_measured_to_pay_back(monkeypatch):
    assert compiling.auto_compile(None, "cpu", "small", "bf16")[0] is False
    assert compiling.auto_compile(None, "cuda", "nwucla", "bf16")[0] is False
    assert compiling.auto_compile(True, "cpu", "tiny", "fp32") == (True, "asked for")
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/" + name)
    assert compiling.auto_compile(None, "cpu", "nwucla", "bf16")[0] is True
    assert compiling.auto_compile(None, "cpu", "nwucla", "fp32")[0] is False        # not measured in fp32
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert compiling.auto_compile(None, "cpu", "nwucla", "bf16") == (False, "auto: no C++ compiler for torch's inductor")


def test_batches_pad_to_a_multiple_of_8_within_t_max():
    batch = [{"motion": np.ones((n, 1, 4, 3), np.float32), "label": 0, "key": str(n)} for n in (5, 11)]
    out = collate(batch, 8, 50)
    assert out["motion"].shape[1] == 16 and out["mask"].sum(1).tolist() == [5, 11]
    assert not out["motion"][:, 11:].any()
    assert collate([{"motion": np.ones((49, 1, 4, 3), np.float32), "label": 0, "key": "a"}], 8, 50)["motion"].shape[1] == 50
    assert collate(batch)["motion"].shape[1] == 11                                 # no padding by default


def test_a_bf16_run_records_its_precision_and_refuses_a_precision_change_on_resume(synth_ntu_prepared, tmp_path):
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", out=str(tmp_path / "run"), preset="tiny",
                  batch_size=8, lr=1e-3, workers=0)
    summary = train(PretrainConfig(epochs=1, precision="bf16", **common))
    record = json.loads((tmp_path / "run/pretrain.json").read_text())
    assert record["precision"] == "bf16" and record["precision_why"].startswith("asked for") and np.isfinite(summary["final_loss"])
    assert record["compile"] is False and record["compile_why"].startswith("auto: not measured")
    with pytest.raises(ValueError, match="this run was trained in bf16; resume with --precision bf16"):
        train(PretrainConfig(epochs=2, precision="fp32", resume=True, **common))
