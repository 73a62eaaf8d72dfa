"""Fixed sample lists: semi-supervised lists in data_manifests/semi/ (class-balanced 1 %, 5 %, 10 %,
seeds 0-4) and validation lists in data_manifests/validation/ (held-out training subjects).

    gltr manifests --data ../shared/data        # regenerate (deterministic); `make manifests`

Built from names only: the NTU available-name lists (missing samples already excluded) and the
NW-UCLA file names. Class-balanced: every class of a benchmark's training set gets the same
count, round(p * N_train / C) names (at least 1, at most the class's size), drawn without
replacement by numpy's PCG64 seeded with the seed.
"""
import hashlib
import json
from pathlib import Path

import numpy as np

from gltr.datasets import DATASETS
from gltr.pipeline.names import MANIFESTS, label_of, ntu_in_scope, parse_name, parse_ntu_name, split_of

PERCENTS = (1, 5, 10)
SEEDS = (0, 1, 2, 3, 4)
SEMI = MANIFESTS / "semi"
VALIDATION = MANIFESTS / "validation"


def available_names(dataset: str, data: Path) -> list[str]:
    if DATASETS[dataset].family == "nwucla":
        return sorted(p.stem for p in (data / "nw_ucla" / "all_sqe").glob("*.json"))
    names = (data / "ntu_available" / f"{dataset}_available.txt").read_text().split()
    return sorted(n for n in names if ntu_in_scope(dataset, parse_ntu_name(n)))


def balanced_subset(names: list[str], labels: list[int], percent: int, seed: int) -> list[str]:
    """The same count from every class (percent% of the whole on average), PCG64(seed); sorted."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    classes = np.unique(labels)
    per_class = max(1, int(round(percent / 100 * len(labels) / len(classes))))
    chosen = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        k = min(per_class, len(members))
        chosen.extend(names[i] for i in rng.choice(members, size=k, replace=False))
    return sorted(chosen)


def list_path(dataset: str, benchmark: str, percent: int, seed: int, root: Path | None = None) -> Path:
    return (root or SEMI) / dataset / benchmark / f"{percent}pct_seed{seed}.txt"


def generate(data: Path, root: Path | None = None) -> dict:
    """Write every NTU and NW-UCLA list and semi/index.json (sha256 and size of each; PKU-MMD entries already
    there are kept); return the index."""
    root = root or SEMI
    index = {k: v for k, v in read_index_file(root).items() if k.startswith("pkummd")}
    for dataset, benchmarks in ((d.name, d.benchmarks) for d in DATASETS.values() if d.family != "pku"):
        names = available_names(dataset, data)
        for benchmark in benchmarks:
            train = [n for n in names if split_of(dataset, benchmark, parse_name(dataset, n)) == "train"]
            labels = [label_of(dataset, parse_name(dataset, n)) for n in train]
            index.update(write_lists(dataset, benchmark, train, labels, root))
    (root / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return index


def generate_pku(dataset: str, raw: Path, root: Path | None = None) -> dict:
    """The PKU-MMD lists from a raw folder's label and split files (instances named and labelled as `gltr
    prepare` names them; rows it would refuse at discovery are left out), added to semi/index.json."""
    from gltr.pipeline.pku import discover_pku
    root = root or SEMI
    info = DATASETS[dataset]
    found = discover_pku(dataset, Path(raw), info.num_classes, info.benchmarks, log=lambda line: None)
    index = {k: v for k, v in read_index_file(root).items() if not k.startswith(dataset + "/")}
    for benchmark in found.benchmarks:
        train = [t for t in found.tasks if t.splits[benchmark] == "train"]
        index.update(write_lists(dataset, benchmark, [t.sample_id for t in train], [t.label for t in train], root))
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return index


def read_index_file(root: Path) -> dict:
    path = root / "index.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_lists(dataset: str, benchmark: str, train: list, labels: list, root: Path) -> dict:
    """Every percent x seed list of one benchmark's training names; their index.json entries."""
    index = {}
    for percent in PERCENTS:
        for seed in SEEDS:
            subset = balanced_subset(train, labels, percent, seed)
            path = list_path(dataset, benchmark, percent, seed, root)
            path.parent.mkdir(parents=True, exist_ok=True)
            text = "\n".join(subset) + "\n"
            path.write_text(text)
            index[str(path.relative_to(root))] = {"samples": len(subset), "train_samples": len(train),
                                                  "sha256": hashlib.sha256(text.encode()).hexdigest()}
    return index


def validation_rules() -> dict:
    """{dataset: {list name: {"field", "held_out"[, "benchmark"]}}}: which training samples of a benchmark
    (the list's name unless the rule names one) are held out for validation."""
    rules = json.loads((MANIFESTS / "validation.json").read_text())
    return {k: v for k, v in rules.items() if not k.startswith("_")}


def generate_validation(data: Path, root: Path = VALIDATION) -> dict:
    """Write validation/<dataset>_<benchmark>.txt (the held-out training samples) and validation/index.json."""
    index = {}
    for dataset, benchmarks in validation_rules().items():
        names = available_names(dataset, data)
        for name, rule in benchmarks.items():
            benchmark = rule.get("benchmark", name)
            held = [n for n in names if split_of(dataset, benchmark, parse_name(dataset, n)) == "train"
                    and parse_name(dataset, n)[rule["field"]] in rule["held_out"]]
            path = root / f"{dataset}_{name}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            text = "\n".join(held) + "\n"
            path.write_text(text)
            index[path.name] = {"samples": len(held), "rule": rule, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    (root / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return index


def read_validation(dataset: str, name: str) -> tuple[frozenset, str]:
    """(names, sha256) of a committed validation list (named as its benchmark, or as in validation.json);
    checked against validation/index.json."""
    path = VALIDATION / f"{dataset}_{name}.txt"
    if not path.exists():
        raise FileNotFoundError(f"no validation list for {dataset}/{name} ({path}); "
                                f"see data_manifests/validation.json")
    text = path.read_text()
    sha = hashlib.sha256(text.encode()).hexdigest()
    expected = json.loads((VALIDATION / "index.json").read_text())[path.name]["sha256"]
    if sha != expected:
        raise ValueError(f"{path} was modified: sha256 {sha[:12]} differs from index.json {expected[:12]}")
    return frozenset(text.split()), sha


def read_list(dataset: str, benchmark: str, percent: int, seed: int) -> tuple[list[str], str]:
    """(names, sha256) of a committed list; the sha256 is checked against semi/index.json."""
    path = list_path(dataset, benchmark, percent, seed)
    if not path.exists():
        if DATASETS[dataset].family == "pku":
            raise FileNotFoundError(f"no sample list {path}: PKU-MMD's lists are made from your copy's label and "
                                    f"split files: gltr manifests --{dataset} RAW")
        raise FileNotFoundError(f"no sample list {path} (percent must be one of {PERCENTS}, seed one of {SEEDS})")
    text = path.read_text()
    sha = hashlib.sha256(text.encode()).hexdigest()
    expected = json.loads((SEMI / "index.json").read_text())[str(path.relative_to(SEMI))]["sha256"]
    if sha != expected:
        raise ValueError(f"{path} was modified: sha256 {sha[:12]} differs from index.json {expected[:12]}")
    return text.split(), sha
