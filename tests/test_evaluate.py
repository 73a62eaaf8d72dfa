import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gltr.train.evaluate import KnnConfig, LinearConfig, knn_eval, knn_predict, linear_eval
from gltr.analysis.report import collect, field_table, markdown


def test_cached_and_reference_protocols_agree_without_augmentation_and_dropout(synth_ntu_prepared, tiny_run):
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", checkpoint=str(tiny_run / "checkpoints/latest.pt"),
                  epochs=5, batch_size=16, workers=0)
    cached = linear_eval(LinearConfig(protocol="cached", **common))
    reference = linear_eval(LinearConfig(protocol="reference", augment=False, dropout=False, **common))
    assert cached["history"] == reference["history"]
    for a, b in zip(cached["head"].parameters(), reference["head"].parameters()):
        assert torch.equal(a, b)
    assert list((tiny_run / "eval").glob("features-*-xsub-train.pt"))      # the cache, named by checkpoint hash


def test_result_json_fields(synth_ntu_prepared, tiny_run):
    linear_eval(LinearConfig(data=str(synth_ntu_prepared), benchmark="xsub", checkpoint=str(tiny_run / "checkpoints/latest.pt"),
                             epochs=3, batch_size=16, workers=0))
    r = json.loads((tiny_run / "eval/linear-xsub.json").read_text())
    weights_sha = hashlib.sha256((tiny_run / "checkpoints/latest.pt").read_bytes()).hexdigest()
    assert r["checkpoint_sha256"] == weights_sha
    assert r["top1"] == r["history"][-1]["top1"] and r["top5"] == r["history"][-1]["top5"]
    assert r["best_epoch_on_test_set"]["top1"] == max(h["top1"] for h in r["history"])
    assert r["protocol"] == "cached" and r["dataset_variant"]["bodies"] == "energy" and r["epochs"] == 3
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", r["git_commit"]) and r["wall_s"] > 0 and r["test_samples"] + r["train_samples"] == 60
    assert 0 <= r["top1"] <= r["top5"] <= 100
    from gltr.train.prepared import PreparedData
    assert r["dataset_identity"] == PreparedData(synth_ntu_prepared).identity
    knn = knn_eval(KnnConfig(data=str(synth_ntu_prepared), benchmark="xsub", checkpoint=str(tiny_run / "checkpoints/latest.pt"),
                             k=5, workers=0))
    assert knn["checkpoint_sha256"] == weights_sha and (tiny_run / "eval/knn-xsub-k5.json").exists()   # k other than 20: named by k
    table = markdown(collect([tiny_run]))
    assert "| linear | ntu120 | xsub | test | cached | pretrained |" in table and "| 66.0 |" in table
    assert "| knn | ntu120 | xsub | test |" in table
    assert r["encoder"] == "pretrained" and r["split"] == "test"


def test_knn_vote_on_separable_features():
    torch.manual_seed(0)
    centres = torch.randn(4, 16) * 5
    train_y = torch.arange(4).repeat(10)
    train_f = centres[train_y] + torch.randn(40, 16) * 0.1
    test_y = torch.arange(4).repeat(3)
    scores = knn_predict(train_f, train_y, centres[test_y] + torch.randn(12, 16) * 0.1, k=5, num_classes=4)
    assert torch.equal(scores.argmax(1), test_y)


@pytest.mark.parametrize("k", [1, 20])
def test_knn_equals_scikit_learn_with_negative_similarities(k):
    """Random features (about half the cosines negative): the prediction is scikit-learn's, so kNN-1 is
    exactly the nearest neighbour's label even when that neighbour's cosine is negative."""
    from sklearn.neighbors import KNeighborsClassifier
    rng = np.random.default_rng(k)
    shift = np.zeros(8)
    shift[0] = 3.0
    train_f = rng.normal(size=(300, 8)) * 0.7 + shift                  # training features on one side,
    test_f = rng.normal(size=(200, 8)) - shift * rng.integers(0, 2, (200, 1))   # many queries on the other
    train_y = rng.integers(0, 6, 300)
    scores = knn_predict(torch.from_numpy(train_f).float(), torch.from_numpy(train_y), torch.from_numpy(test_f).float(),
                         k=k, num_classes=6)
    want = KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(train_f, train_y).predict(test_f)
    assert np.array_equal(scores.argmax(1).numpy(), want)
    cos = (test_f / np.linalg.norm(test_f, axis=1, keepdims=True)) @ (train_f / np.linalg.norm(train_f, axis=1, keepdims=True)).T
    if k == 1:
        nearest = cos.argmax(1)
        assert np.array_equal(want, train_y[nearest]) and (cos.max(1) < 0).sum() > 10   # nearest cosines < 0


def test_semi_uses_exactly_its_listed_samples(ucla_prepared, tmp_path):
    from gltr.pipeline.sample_lists import read_list
    from gltr.configs import semi_config
    from gltr.train.downstream import random_init_spec
    from gltr.train.finetune import finetune_eval, summarize
    results = []
    for seed in (0, 1):
        cfg = semi_config(str(ucla_prepared), "view", 5, seed=seed, epochs=1, workers=0,
                         out=str(tmp_path), random_init=random_init_spec(ucla_prepared, "view", "tiny", seed))
        r = finetune_eval(cfg)
        names, sha = read_list("nwucla", "view", 5, seed)
        assert r["used_samples"] == sorted(names) and r["listed_but_not_prepared"] == []
        assert r["sample_list_sha256"] == sha and r["test_samples"] == 464
        results.append(r)
    summary = summarize(results, cfg)
    assert summary["seeds"] == [0, 1] and abs(summary["top1"] - (results[0]["top1"] + results[1]["top1"]) / 2) < 1e-9
    assert (tmp_path / "eval/semi-view-5pct-random.json").exists()      # a random encoder's, named so


def test_handcrafted_features_are_per_joint_mean_and_std_over_valid_frames(ucla_prepared):
    import numpy as np
    import pyarrow.parquet as pq
    import zarr
    from gltr.train.evaluate import handcrafted_features
    f = handcrafted_features(ucla_prepared, "view", "test", workers=0)
    manifest = pq.read_table(ucla_prepared / "manifest.parquet").to_pydict()
    row = {k: i for i, k in enumerate(manifest["sample_id"])}
    store = zarr.open_group(ucla_prepared / "store.zarr", mode="r")
    offsets = store["offsets"][:]
    assert f["features"].shape == (464, 2 * 20 * 3)
    for n in (0, 17, 463):                                   # independently, from the Zarr store
        i = row[f["keys"][n]]
        x = store["motion"][offsets[i]:offsets[i + 1]].reshape(-1, 60).astype(np.float64)
        np.testing.assert_allclose(f["features"][n].numpy(), np.concatenate([x.mean(0), x.std(0)]), rtol=1e-5, atol=1e-6)
        assert f["labels"][n] == manifest["label"][i]


def test_baselines_and_validation_split(ucla_prepared, tmp_path):
    from gltr.train.downstream import random_init_spec
    from gltr.pipeline.sample_lists import read_validation
    held_out, sha = read_validation("nwucla", "view")
    hand = linear_eval(LinearConfig(data=str(ucla_prepared), benchmark="view", features="handcrafted", epochs=30,
                                    workers=0, out=str(tmp_path / "hand"), validation=True))
    assert hand["encoder"] == "handcrafted" and hand["split"] == "validation" and hand["validation_list_sha256"] == sha
    assert hand["test_samples"] == len(held_out) == 191 and hand["train_samples"] == 1020 - 191
    assert (tmp_path / "hand/eval/linear-view-val-handcrafted.json").exists()
    assert hand["top1"] > 40                                   # far above chance (10 %) on real NW-UCLA
    knn = knn_eval(KnnConfig(data=str(ucla_prepared), benchmark="view", features="handcrafted", k=5, workers=0,
                             out=str(tmp_path / "hand")))
    assert knn["split"] == "test" and knn["test_samples"] == 464 and knn["top1"] > 30
    # --random-init defaults to the dataset's pretraining preset (nwucla), and the cache is keyed by config
    spec = random_init_spec(ucla_prepared, "view", None, 0)
    assert spec["model_config"]["dim"] == 48 and spec["model_config"]["persons"] == 1
    tiny_a, tiny_b, seed_1 = (random_init_spec(ucla_prepared, "view", "tiny", s) for s in (0, 0, 1))
    tiny_b["model_config"]["depth"] = 1
    for spec in (tiny_a, tiny_b, seed_1):
        knn_eval(KnnConfig(data=str(ucla_prepared), benchmark="view", k=5, workers=0, out=str(tmp_path / "rand"),
                           random_init=spec))
    assert len(list((tmp_path / "rand/eval").glob("features-random-*-train.pt"))) == 3   # by config and by seed


def test_report_puts_baselines_beside_the_pretrained_encoder(tmp_path):
    from gltr.analysis.report import comparison
    rows = [{"kind": "linear", "dataset": "nwucla", "benchmark": "view", "split": "test", "protocol": "cached",
             "encoder": e, "top1": v} for e, v in (("pretrained", 81.25), ("random", 45.5), ("handcrafted", 69.0))]
    rows.append({**rows[0], "split": "validation", "top1": 77.0})
    table = comparison(rows)
    assert "| linear | nwucla | view | test | cached | 81.2 | 45.5 | 69.0 | 90.4 |" in table
    assert "| linear | nwucla | view | validation | cached | 77.0 | – | – | – |" in table


def test_a_crafted_pickle_in_a_checkpoint_or_feature_cache_is_refused(tmp_path):
    from gltr.train import checkpoint

    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    path = tmp_path / "latest.pt"
    torch.save({"model": Payload()}, path)
    (tmp_path / "latest.json").write_text("{}")
    with pytest.raises(ValueError, match="is not a gltr checkpoint") as refused:
        checkpoint.load(path)
    assert "weights_only" not in str(refused.value)                  # never suggests disabling the check
    assert not (tmp_path / "pwned").exists()


def test_a_probe_gives_the_same_result_from_fresh_and_cached_features(synth_ntu_prepared, tiny_run, tmp_path):
    """Computing features with loader workers draws from torch's RNG; the head's init must not depend on it."""
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", checkpoint=str(tiny_run / "checkpoints/latest.pt"),
                  epochs=5, batch_size=16, out=str(tmp_path / "probe"))
    fresh = linear_eval(LinearConfig(workers=1, **common))                   # encodes with a DataLoader worker
    cached = linear_eval(LinearConfig(workers=1, **common))                  # reads the cache
    assert fresh["history"] == cached["history"]


def test_report_figures_draw_every_comparison_and_the_loss_terms(tmp_path):
    from PIL import Image
    from gltr.analysis.report import figures, grouped
    rows = [{"kind": "linear", "dataset": "nwucla", "benchmark": "view", "split": "test", "protocol": "cached",
             "encoder": e, "top1": v} for e, v in (("pretrained", 81.25), ("random", 45.5), ("handcrafted", 69.0))]
    rows.append({**rows[0], "kind": "semi5", "top1": 65.3, "top1_std": 2.3})
    assert [len(v) for v in grouped(rows).values()] == [3, 1]
    run = tmp_path / "run"
    run.mkdir()
    records = [{"step": s, "loss": 9.0 - s / 10, "loss_terms": {f"interval{n}": {"direction": 3.0 - s / 40, "magnitude": 2.0}
                                                               for n in (1, 5, 10)}} for s in range(1, 30)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    paths = figures(rows, [run, tmp_path / "no-metrics"], tmp_path / "fig")
    assert [p.name for p in paths] == ["accuracy.png", "loss-run.png"]
    for p in paths:
        image = np.asarray(Image.open(p).convert("L"))
        assert image.std() > 5 and image.shape[1] > 500


def test_a_cached_probe_reads_each_of_the_datasets_files_once(synth_ntu_prepared, tiny_run, monkeypatch):
    from gltr import records
    common = dict(data=str(synth_ntu_prepared), benchmark="xsub", checkpoint=str(tiny_run / "checkpoints/latest.pt"),
                  epochs=2, batch_size=16, workers=0)
    linear_eval(LinearConfig(**common))                     # builds the feature cache
    reads, read = [], records.read
    monkeypatch.setattr(records, "read", lambda path, *a, **kw: reads.append(str(path)) or read(path, *a, **kw))
    linear_eval(LinearConfig(**common))                     # from the cache: one handle, opened once
    dataset_reads = sorted(p for p in reads if p.startswith(str(synth_ntu_prepared)))
    assert dataset_reads == sorted([str(synth_ntu_prepared / "prepare.json"),
                                    str(synth_ntu_prepared / "shards/xsub/train.json")])
    from gltr.train.prepared import PreparedData
    handle = PreparedData(synth_ntu_prepared)                  # a handle in place of the location: the same result
    r = linear_eval(LinearConfig(**{**common, "data": handle}))
    assert r["config"]["data"] == str(synth_ntu_prepared)
    assert json.loads((tiny_run / "eval/linear-xsub.json").read_text())["config"]["data"] == str(synth_ntu_prepared)


def test_one_function_names_every_result_file_as_before():
    from gltr.configs import FinetuneConfig, semi_config
    from gltr.train.downstream import result_path
    random = {"random_init": {"model_config": {}, "seed": 0}}
    names = [("linear", LinearConfig("d", "view", out="o"), None, "linear-view"),
             ("linear", LinearConfig("d", "view", out="o", validation=True, standardize=True, **random), None,
              "linear-view-val-std-random"),
             ("linear", LinearConfig("d", "view", out="o", protocol="reference"), None, "linear-view-reference"),
             ("knn", KnnConfig("d", "view", out="o", features="handcrafted", k=1), None, "knn-view-handcrafted-k1"),
             ("knn", KnnConfig("d", "view", out="o", k=20), None, "knn-view"),            # the default k: unnamed
             ("semi", semi_config("d", "view", 5, out="o"), 0, "semi-view-5pct-seed0"),
             ("semi", semi_config("d", "view", 5, out="o", **random), None, "semi-view-5pct-random"),
             ("finetune", FinetuneConfig("d", "view", out="o", validation=True, **random), 0,
              "finetune-view-val-seed0-random"),
             ("finetune", FinetuneConfig("d", "view", out="o"), None, "finetune-view")]
    for evaluation, cfg, seed, name in names:
        assert result_path(evaluation, cfg, seed) == Path("o/eval") / f"{name}.json"


def test_a_seeds_summary_hides_only_the_seeds_it_covers(tmp_path):
    def result(name, **extra):
        (tmp_path / "eval" / f"{name}.json").write_text(json.dumps({
            "evaluation": "semi", "dataset": "nwucla", "benchmark": "view", "protocol": "fine-tune on 5%", "top1": 50.0,
            "percent": 5, "encoder": "random", "random_init": True, **extra}))
    (tmp_path / "eval").mkdir()
    result("semi-view-5pct-seed0-random", seed=0)
    result("semi-view-5pct-seed1-random", seed=1)
    result("semi-view-5pct-seed2-random", seed=2, top1=60.0)             # run again since the summary was made
    result("semi-view-5pct-random", seeds=[1, 2], per_seed_top1=[50.0, 50.0], top1_std=0.0)
    rows = collect([tmp_path])
    assert sorted(r["file"] for r in rows) == ["semi-view-5pct-random.json", "semi-view-5pct-seed0-random.json",
                                               "semi-view-5pct-seed2-random.json"]
    assert "| semi 5 % | – / 50.0 ± 0.0 / – (paper 58.5) |" in field_table(rows)      # the seeds' mean, not one seed
    from gltr.configs import EvidenceConfig
    with pytest.raises(ValueError, match="^--semi-seed: 0 given twice"):
        EvidenceConfig(data="d", run="r", semi_seeds=(0, 0))
