"""`gltr evidence` at a miniature size on real NW-UCLA: every number in the summary is traceable."""
import json

from gltr.configs import EvidenceConfig
from gltr.analysis.evidence import evidence
from gltr.train.pretrain import PretrainConfig, train


def test_evidence_summary_holds_every_encoder_split_and_seed(ucla_prepared, tmp_path):
    run = tmp_path / "run"
    train(PretrainConfig(data=str(ucla_prepared), benchmark="view", out=str(run), preset="tiny", epochs=2,
                         batch_size=64, lr=1e-3, workers=0, save_every=1))
    s = evidence(EvidenceConfig(str(ucla_prepared), str(run), str(tmp_path / "ev"), semi_seeds=(0, 1), percents=(5,),
                                workers=0, probe_epochs=3, semi_epochs=1), log=lambda line: None)
    assert json.loads((tmp_path / "ev/evidence.json").read_text()) == s
    for split in ("test", "validation"):
        for kind in ("linear", "knn"):
            assert set(s[split][kind]) == {"pretrained", "random", "handcrafted"}
    # each summary figure is the one its own result file holds
    lin = json.loads((tmp_path / "ev/handcrafted/eval/linear-view-handcrafted.json").read_text())
    assert s["test"]["linear"]["handcrafted"] == lin["top1"] and lin["test_samples"] == 464
    val = json.loads((tmp_path / "ev/pretrained/eval/knn-view-val.json").read_text())
    assert s["validation"]["knn"]["pretrained"] == val["top1"] and val["test_samples"] == 191
    assert [p["epoch"] for p in s["curve"]] == [1, 2]
    assert (tmp_path / "ev/probe_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    semi = s["semi"]["5pct"]
    assert semi["pretrained"]["seeds"] == semi["random"]["seeds"] == [0, 1]
    assert abs(semi["random"]["mean"] - sum(semi["random"]["per_seed"]) / 2) < 1e-9
    assert s["recipe"]["preset"] == "tiny" and s["pretrain_steps"] == 2 * 16 and s["paper"]["linear"] == 90.4
    assert "| linear | nwucla | view | test | cached |" in (tmp_path / "ev/report.md").read_text()
    # an identical semi run is reused (interrupted or split evidence runs resume); a changed one is not
    from dataclasses import replace
    from gltr.analysis.evidence import earlier_result, sources
    from gltr.configs import semi_config
    src = sources(run, tmp_path / "ev", json.loads((run / "pretrain.json").read_text())["model_config"])
    for name in ("pretrained", "random"):
        cfg = semi_config(str(ucla_prepared), "view", 5, seed=1, epochs=1, workers=0, **src[name])
        if name == "random":
            cfg = replace(cfg, random_init={**cfg.random_init, "seed": 1})
        assert earlier_result(cfg)["top1"] == semi[name]["per_seed"][1]
        assert earlier_result(replace(cfg, epochs=2)) is None
