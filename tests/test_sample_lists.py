import json
from collections import Counter
from pathlib import Path

import pytest

from gltr.datasets import DATASETS
from gltr.pipeline.names import label_of, parse_name, split_of
from gltr.pipeline.sample_lists import PERCENTS, SEEDS, SEMI, available_names, generate, read_list
from gltr.pipeline.names import MANIFESTS


def test_lists_regenerate_identically(real, tmp_path):
    index = generate(real, tmp_path)
    assert index == json.loads((SEMI / "index.json").read_text())
    assert len(index) == 5 * len(PERCENTS) * len(SEEDS)


@pytest.mark.parametrize("dataset, benchmark", [(d.name, b) for d in DATASETS.values() for b in d.benchmarks
                                                if d.available_names is not None])   # PKU-MMD's come from the user's copy
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


def test_a_modified_list_is_refused(tmp_path):
    root = tmp_path / "manifests" / "semi"                  # a dataset's own lists are read before the package's
    (root / "nwucla/view").mkdir(parents=True)
    (root / "nwucla/view/5pct_seed0.txt").write_text("a01_s01_e00_v01\n")
    (root / "index.json").write_text(json.dumps({"nwucla/view/5pct_seed0.txt": {"sha256": "0" * 64}}))
    with pytest.raises(ValueError, match="5pct_seed0.txt was modified"):
        read_list("nwucla", "view", 5, 0, tmp_path)


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


# ----------------------------------------------------------------------------- gltr manifests writes where it may

def tree(root: Path) -> dict:
    """{relative path: bytes (files) or None (folders)} of everything under `root`, links not followed."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def pku(tmp_path_factory):
    """(raw, prepared) synthetic PKU-MMD Phase II: 9 sequences of 3 classes."""
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.synth import synth_pku
    raw = tmp_path_factory.mktemp("pku_raw")
    synth_pku(raw, 9, seed=0, phase=2, classes=3)
    data = tmp_path_factory.mktemp("pku") / "pkummd2"
    prepare("pkummd2", raw, data, shard_size=16, log=lambda line: None)
    return raw, data


def manifests(*args):
    from typer.testing import CliRunner
    from gltr.cli.main import app
    return CliRunner().invoke(app, ["manifests", *map(str, args)])


def test_pku_lists_go_into_the_dataset_never_the_package_and_semi_finds_them(pku, tmp_path):
    raw, data = pku
    package = tree(MANIFESTS)
    res = manifests("--pkummd2", raw, "--data", data)
    assert res.exit_code == 0, res.output
    assert tree(MANIFESTS) == package                                  # nothing written into the package
    index = json.loads((data / "manifests" / "semi" / "index.json").read_text())
    assert len(index) == 2 * len(PERCENTS) * len(SEEDS) and all(k.startswith("pkummd2/") for k in index)
    names, sha = read_list("pkummd2", "xsub", 1, 0, data)             # the dataset's, checked against its index
    assert len(names) == 3 and sha == index["pkummd2/xsub/1pct_seed0.txt"]["sha256"]
    with pytest.raises(FileNotFoundError, match="gltr manifests --pkummd2 RAW"):
        read_list("pkummd2", "xsub", 1, 0)                            # the package has none
    from gltr.configs import semi_config
    from gltr.train.downstream import random_init_spec
    from gltr.train.finetune import finetune_eval
    r = finetune_eval(semi_config(str(data), "xsub", 1, seed=0, epochs=1, batch_size=8,
                             out=str(tmp_path / "run"), random_init=random_init_spec(data, "xsub", "tiny", 0)))
    assert r["sample_list_sha256"] == sha and sorted(r["used_samples"]) == names
    res = manifests("--pkummd2", raw, "--data", data)                  # again: our own folder is replaced
    assert res.exit_code == 0, res.output
    assert not [p for p in (data / "manifests").iterdir() if p.name != "semi"]       # no temporary left
    assert tree(MANIFESTS) == package


def test_lists_are_read_from_a_url_or_pipe_dataset(pku):
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    raw, data = pku
    if not (data / "manifests" / "semi" / "index.json").exists():
        assert manifests("--pkummd2", raw, "--data", data).exit_code == 0
    local = read_list("pkummd2", "xview", 5, 1, data)
    assert read_list("pkummd2", "xview", 5, 1, f"pipe:cat {data}/{{}}") == local
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler, directory=str(data)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert read_list("pkummd2", "xview", 5, 1, url) == local
        assert read_list("nwucla", "view", 5, 0, url) == read_list("nwucla", "view", 5, 0)   # not there: the package's
    finally:
        server.shutdown()
        server.server_close()


def test_an_empty_training_split_is_one_line_and_writes_nothing(pku, tmp_path):
    import shutil
    raw = tmp_path / "raw"
    shutil.copytree(pku[0], raw)
    (raw / "cross_view_v2.txt").write_text("Training videos: \n\nValidation videos: \n")      # no training sequence
    data = tmp_path / "pkummd2"
    shutil.copytree(pku[1], data, ignore=shutil.ignore_patterns("manifests"))
    package = tree(MANIFESTS)
    res = manifests("--pkummd2", raw, "--data", data)
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [f"error: {raw}: pkummd2 xview has no training sample, so no xview "
                                               f"list can be drawn (nothing was written)"]
    assert not (data / "manifests").exists() and tree(MANIFESTS) == package        # not even xsub's lists


def test_a_failure_half_way_leaves_the_previous_lists(pku, tmp_path, monkeypatch):
    import shutil
    from gltr.pipeline import sample_lists
    from gltr.pipeline.synth import synth_pku
    root = tmp_path / "manifests" / "semi"
    sample_lists.generate_pku("pkummd2", pku[0], root)
    before = tree(root.parent)
    other = tmp_path / "other_raw"                                    # other sequences: other lists
    synth_pku(other, 12, seed=1, phase=2, classes=4)
    real_write, calls = Path.write_text, []

    def full_disk(self, *a, **k):
        calls.append(self)
        if len(calls) == 7:
            raise OSError(28, "No space left on device", str(self))
        return real_write(self, *a, **k)
    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError, match="No space left"):
        sample_lists.generate_pku("pkummd2", other, root)
    monkeypatch.undo()
    assert len(calls) == 7 and tree(root.parent) == before           # the old lists, whole; no temporary folder
    sample_lists.generate_pku("pkummd2", other, root)
    assert tree(root.parent) != before                               # (the new ones do differ)
    # the two folders of the committed lists: a failure renaming the second puts the first back
    out = tmp_path / "out"
    lists = {"semi": {"ntu60/xsub/1pct_seed0.txt": ("S001C001P001R001A001\n", {"sha256": "0" * 64})},
             "validation": {"nwucla_view.txt": ("a01_s01_e00_v01\n", {"sha256": "1" * 64})}}
    sample_lists.write_folders({out / k: (k, v) for k, v in lists.items()})
    before = tree(out)
    real_rename = sample_lists.os.rename

    def refuse_second(src, dst):
        if Path(dst).name == "validation" and ".tmp-" in Path(src).name:
            raise OSError(5, "Input/output error", str(dst))
        return real_rename(src, dst)
    monkeypatch.setattr(sample_lists.os, "rename", refuse_second)
    changed = {k: {rel: ("changed\n", e) for rel, (_, e) in v.items()} for k, v in lists.items()}
    with pytest.raises(OSError, match="Input/output error"):
        sample_lists.write_folders({out / k: (k, v) for k, v in changed.items()})
    monkeypatch.undo()
    assert tree(out) == before
    shutil.rmtree(out)


def test_manifests_never_writes_into_the_package_nor_over_files_it_did_not_write(pku, tmp_path):
    raw, data = pku
    package = tree(MANIFESTS)
    res = manifests("--data", tmp_path)                               # the committed lists: only with --out
    assert res.exit_code == 2 and "no --out" in res.output and len(res.output.strip().splitlines()) == 1
    res = manifests("--pkummd2", raw)                                 # PKU-MMD: --data PREPARED or --out
    assert res.exit_code == 2 and "--pkummd2 needs --data PREPARED" in res.output
    res = manifests("--pkummd2", raw, "--data", raw)                  # not a prepared dataset
    assert res.exit_code == 2 and "prepare.json not found" in res.output
    mine = tmp_path / "mine" / "semi"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes\n")
    res = manifests("--pkummd2", raw, "--out", mine.parent)
    assert res.exit_code == 2 and "no index.json of gltr's semi lists" in res.output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    res = manifests("--pkummd2", raw, "--out", tmp_path / "ours")    # a new folder is fine; then a stray file in it
    assert res.exit_code == 0, res.output
    (tmp_path / "ours" / "semi" / "pkummd2" / "keep.txt").write_text("mine\n")
    res = manifests("--pkummd2", raw, "--out", tmp_path / "ours")
    assert res.exit_code == 2 and "keep.txt: not a list gltr wrote" in res.output
    assert (tmp_path / "ours" / "semi" / "pkummd2" / "keep.txt").read_text() == "mine\n"
    from gltr.pipeline.sample_lists import folder_problems          # what `gltr verify` reports of such a folder
    assert folder_problems(tmp_path / "ours" / "semi", "semi") == ["pkummd2/keep.txt: not listed in index.json"]
    assert tree(MANIFESTS) == package
