import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def test_demo_pipeline_end_to_end_at_miniature_size(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gltr.cli.main", "demo", "--out", str(tmp_path / "demo"),
                             "--samples", "48", "--classes", "4", "--epochs", "2", "--probe-epochs", "20"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[5/5]" in result.stderr and "Traceback" not in result.stderr
    assert "| linear | nwucla | view | test | cached |" in result.stdout
    printed = re.search(r"pretrained encoder: top-1 ([\d.]+)%\s+random encoder: ([\d.]+)%\s+hand-crafted features: ([\d.]+)%",
                        result.stdout)
    assert printed, result.stdout
    # the printed figures are the ones the result files hold, one per encoder
    for value, path in zip(printed.groups(), ("run/eval/linear-view.json", "random/eval/linear-view-random.json",
                                              "handcrafted/eval/linear-view-handcrafted.json")):
        r = json.loads((tmp_path / "demo" / path).read_text())
        assert f"{r['top1']:.1f}" == value and r["test_samples"] + r["train_samples"] == 48
    assert (tmp_path / "demo/results.md").read_text().count("| linear |") == 1 + 1 + 3   # field-table row, comparison row, 3 results
    # the figures it names exist and are drawn: the accuracy bars and the pretraining loss with its terms
    figures = re.search(r"figures: (.+)", result.stdout).group(1).split(", ")
    assert sorted(Path(f).name for f in figures) == ["accuracy.png", "loss-run.png"]
    for f in figures:
        assert np.asarray(Image.open(f).convert("L")).std() > 5


@pytest.mark.slow
def test_the_default_demo_shows_mpdp_pretraining_beating_random_init(tmp_path):
    """The demo's point, at its default size: the pretrained encoder separates motions that neither a
    random encoder nor per-joint mean/std features can (README states the figures)."""
    from gltr.configs import DemoConfig
    from gltr.demo import demo
    r = demo(replace(DemoConfig(), out=str(tmp_path / "demo")), log=lambda line: None)
    chance = 100 / DemoConfig().classes
    assert r["random_top1"] < chance + 15 and r["handcrafted_top1"] < chance + 15
    assert r["pretrained_top1"] > r["random_top1"] + 40


def test_the_demo_leaves_a_folder_it_did_not_make_alone(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    result = subprocess.run([sys.executable, "-m", "gltr.cli.main", "demo", "--out", str(tmp_path / "mine")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "was not made by `gltr demo`" in result.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_a_folder_the_demo_made_is_replaced(tmp_path):
    from gltr.demo import MARKER, fresh_folder
    fresh_folder(tmp_path / "new")                                   # absent: made
    (tmp_path / "new" / "old-run.txt").write_text("from the last run")
    fresh_folder(tmp_path / "new")                                   # the demo's own: replaced
    assert [p.name for p in (tmp_path / "new").iterdir()] == [MARKER]
    (tmp_path / "empty").mkdir()
    fresh_folder(tmp_path / "empty")                                 # empty: taken
    assert (tmp_path / "empty" / MARKER).exists()
