"""The README's real-data experiment, end to end (slow: ~12 minutes on 2 cores; `make fulltest`)."""
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mpdp_pretraining_beats_a_random_encoder_on_real_nwucla(real, tmp_path):
    result = subprocess.run(["make", "evidence", f"REAL={real}", f"EV_DATA={tmp_path / 'data'}",
                             f"EV_RUN={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    pretrained = json.loads((tmp_path / "run/eval/linear-view.json").read_text())
    random = json.loads((tmp_path / "run-random/eval/linear-view-random.json").read_text())
    assert pretrained["test_samples"] == random["test_samples"] == 464
    assert pretrained["top1"] >= random["top1"] + 10, (pretrained["top1"], random["top1"])
