import json
from collections import Counter

import pytest

from gltr.datasets import DATASETS
from gltr.pipeline.names import label_of, parse_name, split_of
from gltr.pipeline.sample_lists import PERCENTS, SEEDS, SEMI, available_names, generate, read_list


def test_lists_regenerate_identically(real, tmp_path):
    index = generate(real, tmp_path)
    assert index == json.loads((SEMI / "index.json").read_text())
    assert len(index) == 5 * len(PERCENTS) * len(SEEDS)


@pytest.mark.parametrize("dataset, benchmark", [(d.name, b) for d in DATASETS.values() for b in d.benchmarks
                                                if d.family != "pku"])          # PKU-MMD's come from the user's copy
def test_lists_are_class_balanced_subsets_of_train(dataset, benchmark):
    index = json.loads((SEMI / "index.json").read_text())
    for percent in PERCENTS:
        previous = None
        for seed in SEEDS:
            names, _ = read_list(dataset, benchmark, percent, seed)
            assert len(names) == len(set(names)) == index[f"{dataset}/{benchmark}/{percent}pct_seed{seed}.txt"]["samples"]
            fields = [parse_name(dataset, n) for n in names]
            assert all(split_of(dataset, benchmark, f) == "train" for f in fields)
            per_class = Counter(label_of(dataset, f) for f in fields)
            train = index[f"{dataset}/{benchmark}/{percent}pct_seed{seed}.txt"]["train_samples"]
            assert len(per_class) == {"ntu60": 60, "ntu120": 120, "nwucla": 10}[dataset]
            assert len(set(per_class.values())) == 1                  # the same count in every class
            assert abs(len(names) - percent / 100 * train) <= len(per_class) / 2
            assert names != previous                        # seeds differ
            previous = names


def test_lists_contain_only_available_names(real):
    names = set(available_names("ntu120", real))
    for seed in SEEDS:
        assert set(read_list("ntu120", "xsub", 10, seed)[0]) <= names


def test_a_modified_list_is_refused(tmp_path, monkeypatch):
    import gltr.pipeline.sample_lists as sl
    root = tmp_path / "semi"
    (root / "nwucla/view").mkdir(parents=True)
    (root / "nwucla/view/5pct_seed0.txt").write_text("a01_s01_e00_v01\n")
    (root / "index.json").write_text(json.dumps({"nwucla/view/5pct_seed0.txt": {"sha256": "0" * 64}}))
    monkeypatch.setattr(sl, "SEMI", root)
    monkeypatch.setattr(sl, "list_path", lambda d, b, p, s, root=root: root / d / b / f"{p}pct_seed{s}.txt")
    with pytest.raises(ValueError, match="was modified"):
        sl.read_list("nwucla", "view", 5, 0)


def test_validation_lists_regenerate_identically_and_hold_out_whole_training_subjects_or_views(real, tmp_path):
    from gltr.pipeline.sample_lists import VALIDATION, generate_validation, read_validation, validation_rules
    assert generate_validation(real, tmp_path) == json.loads((VALIDATION / "index.json").read_text())
    for dataset, rules in validation_rules().items():
        for name, rule in rules.items():
            benchmark = rule.get("benchmark", name)
            held, _ = read_validation(dataset, name)
            train = [n for n in available_names(dataset, real) if split_of(dataset, benchmark, parse_name(dataset, n)) == "train"]
            groups = {parse_name(dataset, n)[rule["field"]] for n in held}
            assert groups == set(rule["held_out"]) and held <= set(train)
            # whole groups: every training sample of a held-out subject (or view) is held out
            assert held == {n for n in train if parse_name(dataset, n)[rule["field"]] in groups}
            assert 0.1 < len(held) / len(train) < 0.6
    assert len(read_validation("nwucla", "view")[0]) == 191 and len(read_validation("nwucla", "view-crossview")[0]) == 504
