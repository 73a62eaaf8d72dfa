"""The README's real-data experiment, end to end at a shorter length (slow: ~20 minutes on 2 cores; `make fulltest`)."""
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mpdp_pretraining_beats_a_random_encoder_on_real_nwucla(real, tmp_path):
    result = subprocess.run(["make", "evidence", f"REAL={real}", f"EV_DATA={tmp_path / 'data'}", "EV_EPOCHS=25",
                             f"EV_RUN={tmp_path / 'run'}", f"EV_OUT={tmp_path / 'ev'}", "EV_SEMI=--semi-seed 0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    s = json.loads((tmp_path / "ev/evidence.json").read_text())
    assert s["complete"] and s["recipe"]["epochs"] == 25
    linear = s["test"]["linear"]
    assert linear["pretrained"] >= linear["random"] + 10, linear
    assert json.loads((tmp_path / "ev/pretrained/eval/linear-view.json").read_text())["test_samples"] == 464
    assert set(s["semi"]["5pct"]) == {"pretrained", "random"} and s["semi"]["5pct"]["pretrained"]["seeds"] == [0]
