"""Fixed sample lists: semi-supervised lists in semi/ (class-balanced 1 %, 5 %, 10 %, seeds 0-4) and
validation lists in validation/ (held-out training subjects), each folder with an index.json of sha256s.

    gltr manifests --data ../shared/data --out data_manifests    # regenerate the committed lists; `make manifests`
    gltr manifests --pkummd2 RAW --data data/pkummd2             # PKU-MMD's -> data/pkummd2/manifests/semi/

Where they live: the NTU and NW-UCLA lists are committed in the package's data_manifests/ (read only:
`gltr manifests` never writes into the package, the committed lists are regenerated with an explicit
--out); PKU-MMD's are made from the user's label files and go into the prepared dataset's manifests/.
A reader looks in the dataset's manifests/ first (a folder, http(s) prefix or pipe:, read bounded),
then in the package's; a list whose sha256 differs from its index.json is refused.

Built from names only: the NTU available-name lists (missing samples already excluded), the NW-UCLA
file names, PKU-MMD's label and split files. Class-balanced: every class of a benchmark's training set
gets the same count, round(p * N_train / C) names (at least 1, at most the class's size), drawn without
replacement by numpy's PCG64 seeded with the seed.

Written all or none: every list is made in memory first (an empty training split is an error before
anything is written), then into a temporary folder beside the target, renamed into place; a target
folder gltr did not write (no index.json of ours, or a file it does not list) is refused, never replaced.
"""
import hashlib
import json
import os
import re
import secrets
import shutil
from pathlib import Path

import numpy as np

from gltr import fetch, records
from gltr.datasets import DATASETS
from gltr.pipeline.names import MANIFESTS, label_of, parse_name, parse_ntu_name, split_of
from gltr.safety import check_name, read_regular

PERCENTS = (1, 5, 10)
SEEDS = (0, 1, 2, 3, 4)
SEMI = MANIFESTS / "semi"                  # the package's, read only
VALIDATION = MANIFESTS / "validation"
LIST_MAX_BYTES = 64 << 20                  # the largest committed list (NTU-120 validation) is ~1 MB
INDEX_MAX_BYTES = 16 << 20
LIST_NAMES = {"semi": re.compile(r"([a-z0-9]+)/[A-Za-z0-9_-]{1,50}/[0-9]{1,3}pct_seed[0-9]{1,9}\.txt", re.ASCII),
              "validation": re.compile(r"([a-z0-9]+)_[A-Za-z0-9_-]{1,50}\.txt", re.ASCII)}


def available_names(dataset: str, data: Path) -> list[str]:
    """Every sample name of `dataset` under `data` (../shared/data) that the committed lists are drawn from: its
    row's `available_names`."""
    if DATASETS[dataset].available_names is None:
        raise ValueError(f"{dataset}'s sample lists are made from your copy (gltr manifests --{dataset} RAW)")
    return DATASETS[dataset].available_names(data)


def ntu_available_names(dataset: str, data: Path) -> list[str]:
    """The NTU names in data/ntu_available/<dataset>_available.txt within the dataset's scope."""
    names = (data / "ntu_available" / f"{dataset}_available.txt").read_text().split()
    return sorted(n for n in names if DATASETS[dataset].in_scope(parse_ntu_name(n)))


def ucla_available_names(data: Path) -> list[str]:
    """The NW-UCLA names of data/nw_ucla/all_sqe/*.json."""
    return sorted(p.stem for p in (data / "nw_ucla" / "all_sqe").glob("*.json"))


def balanced_subset(names: list[str], labels: list[int], percent: int, seed: int) -> list[str]:
    """The same count from every class (percent% of the whole on average), PCG64(seed); sorted."""
    if not len(labels):
        raise ValueError("no training sample to draw a list from")
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


# ----------------------------------------------------------------------------- making lists (in memory)

def semi_lists(dataset: str, benchmark: str, train: list, labels: list, source) -> dict:
    """{relative path: (text, index entry)} of every percent x seed list of one benchmark's training names;
    ValueError naming `source` when the training split is empty."""
    if not train:
        raise ValueError(f"{source}: {dataset} {benchmark} has no training sample, so no {benchmark} list can be "
                         f"drawn (nothing was written)")
    lists = {}
    for percent in PERCENTS:
        for seed in SEEDS:
            text = "\n".join(balanced_subset(train, labels, percent, seed)) + "\n"
            lists[f"{dataset}/{benchmark}/{percent}pct_seed{seed}.txt"] = (text, {
                "samples": len(text.split()), "train_samples": len(train), "sha256": sha256(text)})
    return lists


def ntu_ucla_lists(data: Path) -> dict:
    """Every NTU and NW-UCLA semi-supervised list, as `semi_lists`."""
    lists = {}
    for dataset, benchmarks in ((d.name, d.benchmarks) for d in DATASETS.values() if d.available_names is not None):
        names = available_names(dataset, data)
        for benchmark in benchmarks:
            train = [n for n in names if split_of(dataset, benchmark, parse_name(dataset, n)) == "train"]
            labels = [label_of(dataset, parse_name(dataset, n)) for n in train]
            lists.update(semi_lists(dataset, benchmark, train, labels, data))
    return lists


def pku_lists(dataset: str, raw: Path) -> dict:
    """The PKU-MMD lists from a raw folder's label and split files (instances named and labelled as `gltr
    prepare` names them; rows it would refuse at discovery are left out), as `semi_lists`."""
    from gltr.pipeline.pku import discover_pku
    info = DATASETS[dataset]
    found = discover_pku(dataset, Path(raw), info.num_classes, info.benchmarks, log=lambda line: None)
    lists = {}
    for benchmark in found.benchmarks:
        train = [t for t in found.tasks if t.splits[benchmark] == "train"]
        lists.update(semi_lists(dataset, benchmark, [t.sample_id for t in train], [t.label for t in train], raw))
    return lists


def validation_rules() -> dict:
    """{dataset: {list name: {"field", "held_out"[, "benchmark"]}}}: which training samples of a benchmark
    (the list's name unless the rule names one) are held out for validation."""
    rules = json.loads((MANIFESTS / "validation.json").read_text())
    return {k: v for k, v in rules.items() if not k.startswith("_")}


def validation_lists(data: Path) -> dict:
    """{<dataset>_<name>.txt: (text, index entry)}: the held-out training samples of every validation rule."""
    lists = {}
    for dataset, benchmarks in validation_rules().items():
        names = available_names(dataset, data)
        for name, rule in benchmarks.items():
            benchmark = rule.get("benchmark", name)
            held = [n for n in names if split_of(dataset, benchmark, parse_name(dataset, n)) == "train"
                    and parse_name(dataset, n)[rule["field"]] in rule["held_out"]]
            text = "\n".join(held) + "\n"
            lists[f"{dataset}_{name}.txt"] = (text, {"samples": len(held), "rule": rule, "sha256": sha256(text)})
    return lists


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ----------------------------------------------------------------------------- writing them (all or none)

def generate(data: Path, root: Path) -> dict:
    """Write every NTU and NW-UCLA list and index.json into the folder `root` (lists of other datasets already
    there are kept); return the index."""
    return write_folders({Path(root): ("semi", ntu_ucla_lists(data))})[Path(root)]


def generate_validation(data: Path, root: Path) -> dict:
    """Write validation/<dataset>_<name>.txt (the held-out training samples) and index.json into `root`."""
    return write_folders({Path(root): ("validation", validation_lists(data))})[Path(root)]


def regenerate(data: Path, out: Path) -> tuple[dict, dict]:
    """`out`/semi/ and `out`/validation/ (the committed lists: `out` is the repository's data_manifests), both
    or neither; their indexes."""
    out = Path(out)
    written = write_folders({out / "semi": ("semi", ntu_ucla_lists(data)),
                             out / "validation": ("validation", validation_lists(data))})
    return written[out / "semi"], written[out / "validation"]


def generate_pku(dataset: str, raw: Path, root: Path) -> dict:
    """PKU-MMD's lists made from `raw`, written into the folder `root` (usually DATA/manifests/semi, see
    `pku_root`); lists of other datasets already there are kept. The index."""
    return write_folders({Path(root): ("semi", pku_lists(dataset, raw))})[Path(root)]


def pku_root(dataset: str, data: Path | None, out: Path | None) -> Path:
    """Where `gltr manifests --<dataset> RAW` writes: the prepared dataset's manifests/semi (--data), or
    `out`/semi (--out)."""
    if (data is None) == (out is None):
        raise ValueError(f"--{dataset} needs --data PREPARED (the prepared {dataset} dataset the lists belong to; "
                         f"they go to PREPARED/manifests/semi/) or --out DIR, one of them")
    if out is not None:
        return Path(out) / "semi"
    report = Path(data) / "prepare.json"
    if not report.is_file():
        raise FileNotFoundError(f"{report} not found: --data is the prepared {dataset} dataset (gltr prepare "
                                f"{dataset} --raw RAW --out {data})")
    made = records.read(report, records.PrepareReport).dataset
    if made != dataset:
        raise ValueError(f"{data} is a prepared {made} dataset, not {dataset}: its lists would never be read")
    return Path(data) / "manifests" / "semi"


def write_folders(targets: dict) -> dict:
    """Write {folder: (kind, {relative path: (text, index entry)})} and each folder's index.json, all or
    none. Lists of other datasets in a folder gltr wrote before are kept (checked against its index); a
    folder gltr did not write is refused. Each folder is written beside itself and renamed into place; any
    failure puts back the folders already swapped and removes the temporary ones. {folder: index}."""
    plans = {}
    for root, (kind, lists) in targets.items():
        kept = {}
        old = own_index(root, kind)
        datasets = {LIST_NAMES[kind].fullmatch(rel).group(1) for rel in lists}
        for rel, entry in (old or {}).items():
            if LIST_NAMES[kind].fullmatch(rel).group(1) not in datasets:
                text = read_regular(root / rel, LIST_MAX_BYTES, "too large for a sample list").decode()
                if sha256(text) != entry["sha256"]:
                    raise ValueError(f"{root / rel} was modified: sha256 {sha256(text)[:12]} differs from index.json "
                                     f"{entry['sha256'][:12]}; nothing was written")
                kept[rel] = (text, entry)
        plans[root] = {**kept, **lists}
    temporary, swapped = [], []                   # (folder, its temporary), (folder, where the old one went)
    try:
        for root, lists in plans.items():
            root.parent.mkdir(parents=True, exist_ok=True)
            tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
            tmp.mkdir()                           # mode from the umask, as the folder it replaces
            temporary.append((root, tmp))
            for rel, (text, _) in sorted(lists.items()):
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_text(text)
            index = {rel: entry for rel, (_, entry) in lists.items()}
            (tmp / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
        for root, tmp in temporary:
            aside = None
            if root.exists():
                aside = root.parent / f".{root.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
                os.rename(root, aside)
            try:
                os.rename(tmp, root)
            except BaseException:
                if aside is not None:
                    os.rename(aside, root)
                raise
            swapped.append((root, aside))
    except BaseException:
        for root, aside in reversed(swapped):     # put the old folders back: the new ones are ours
            shutil.rmtree(root)
            if aside is not None:
                os.rename(aside, root)
        for _, tmp in temporary:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    for _, aside in swapped:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)   # checked by own_index: only lists gltr wrote
    return {root: {rel: entry for rel, (_, entry) in lists.items()} for root, lists in plans.items()}


def own_index(root: Path, kind: str) -> dict | None:
    """The index of a list folder gltr wrote (None: no folder; {}: an empty one); FileExistsError for anything
    else there (a file, a link, a folder without our index.json, a file the index does not list)."""
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise FileExistsError(f"{root}: not a folder gltr wrote (a file or link); choose another output folder")
    if not root.exists():
        return None
    index, stray = index_and_strays(root, kind)
    if index is None:
        raise FileExistsError(f"{root} holds files but no index.json of gltr's {kind} lists: not replaced; "
                              f"choose another output folder")
    if stray:
        raise FileExistsError(f"{root / stray[0]}: not a list gltr wrote (not in index.json beside it): move it "
                              f"away or choose another output folder")
    return index


def index_and_strays(root: Path, kind: str) -> tuple[dict | None, list[str]]:
    """(the folder's index.json if it is an index of gltr's `kind` lists, else None; files under it that are
    neither index.json nor listed in it). An empty folder: ({}, [])."""
    present = sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir() or p.is_symlink())
    if not present:
        return {}, []
    try:
        index = {rel: e.model_dump() for rel, e in records.read(root / "index.json", records.ListIndex).root.items()}
        if not all(LIST_NAMES[kind].fullmatch(rel) for rel in index):
            index = None
    except (OSError, ValueError):
        index = None
    return index, [rel for rel in present if rel != "index.json" and rel not in (index or {})]


def folder_problems(root: Path, kind: str) -> list[str]:
    """Problems of a list folder gltr wrote, each '<path relative to root>: what' (for `gltr verify` of a prepared
    dataset's manifests/): no index.json of ours, files it does not list, lists missing or modified."""
    root = Path(root)
    if root.is_symlink() or not root.is_dir():
        return [f"./: not a folder of gltr's {kind} lists"]
    index, stray = index_and_strays(root, kind)
    problems = [] if index is not None else [f"index.json: missing or not an index of gltr's {kind} lists"]
    problems += [f"{rel}: not listed in index.json" for rel in stray]
    for rel, entry in (index or {}).items():
        path = root / rel
        if path.is_symlink() or not path.is_file():
            problems.append(f"{rel}: missing (listed in index.json)")
        elif sha256(read_regular(path, LIST_MAX_BYTES, "too large for a sample list").decode(errors="replace")) \
                != entry["sha256"]:
            problems.append(f"{rel}: sha256 differs from index.json (modified)")
    return problems


# ----------------------------------------------------------------------------- reading them

def read_validation(dataset: str, name: str, data=None) -> tuple[frozenset, str]:
    """(names, sha256) of a validation list (named as its benchmark, or as in validation.json): the dataset's
    own (`data`/manifests/validation/) if it has one, else the package's; checked against index.json."""
    check_name(name, "benchmark", "--benchmark")
    found = read_listed("validation", f"{dataset}_{name}.txt", data)
    if found is None:
        raise FileNotFoundError(f"no validation list for {dataset}/{name} (in {where('validation', data)}); "
                                f"see data_manifests/validation.json")
    return frozenset(found[0].split()), found[1]


def read_list(dataset: str, benchmark: str, percent: int, seed: int, data=None) -> tuple[list[str], str]:
    """(names, sha256) of a semi-supervised list: the dataset's own (`data`/manifests/semi/: PKU-MMD's) if it
    has one, else the package's; the sha256 is checked against that folder's index.json."""
    check_name(benchmark, "benchmark", "--benchmark")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}")
    found = read_listed("semi", f"{dataset}/{benchmark}/{percent}pct_seed{seed}.txt", data)
    if found is None:
        rel = f"{dataset}/{benchmark}/{percent}pct_seed{seed}.txt"
        if DATASETS[dataset].available_names is None:        # PKU-MMD
            raise FileNotFoundError(f"no sample list {rel} in {where('semi', data)}: PKU-MMD's lists are made from "
                                    f"your copy's label and split files: gltr manifests --{dataset} RAW --data "
                                    f"{data if data is not None and not fetch.is_url(data) else 'PREPARED'}")
        raise FileNotFoundError(f"no sample list {rel} in {where('semi', data)} (percent must be one of {PERCENTS}, "
                                f"seed one of {SEEDS})")
    return found[0].split(), found[1]


def where(kind: str, data) -> str:
    package = {"semi": SEMI, "validation": VALIDATION}[kind]
    return f"{fetch.locate(data, 'manifests', kind)} or {package}" if data is not None else str(package)


def read_listed(kind: str, rel: str, data=None) -> tuple[str, str] | None:
    """(text, sha256) of the list `rel` from the first folder whose index.json names it: the dataset's
    manifests/<kind>/ (local, http(s) or pipe:; one without an index.json is skipped), then the package's.
    None if neither has it; ValueError for a list whose sha256 differs from the index."""
    package = {"semi": SEMI, "validation": VALIDATION}[kind]
    roots = [(data, ("manifests", kind))] if data is not None else []
    for base, parts in roots + [(str(package), ())]:
        at = fetch.locate(base, *parts, "index.json")
        try:
            raw = fetch.read(at, INDEX_MAX_BYTES)
        except FileNotFoundError:
            continue
        except OSError:
            if fetch.is_url(base):                # a pipe: command cannot tell "no such file" from a failure
                continue
            raise
        index = records.parse(raw, records.ListIndex, at).root
        expected = index[rel].sha256 if rel in index else None
        if expected is None:
            continue
        path = fetch.locate(base, *parts, *rel.split("/"))
        try:
            text = fetch.read(path, LIST_MAX_BYTES).decode()
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: listed in {at} but missing") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a text sample list") from None
        if sha256(text) != expected:
            raise ValueError(f"{path} was modified: sha256 {sha256(text)[:12]} differs from index.json {expected[:12]}")
        return text, expected
    return None
