"""Sample names and benchmark splits: the NTU and NW-UCLA name grammars, the split rules of
data_manifests/splits.json (docs/dataset.md, `data_manifests/`), and by-dataset shorthands for the functions of a
dataset's row (gltr.datasets).

NTU:     SsssCcccPpppRrrrAaaa  (setup, camera, performer, replication, action; 1-based)
NW-UCLA: aAA_sSS_eEE_vVV       (action, subject, episode, view)
"""
import json
import re
from functools import cache
from pathlib import Path

from gltr.datasets import DATASETS

MANIFESTS = Path(__file__).parents[1] / "data_manifests"   # gltr/data_manifests: a link to the repository's, a folder when installed

NTU_NAME = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})\Z", re.ASCII)      # ASCII: no look-alike digits
UCLA_NAME = re.compile(r"^a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})\Z", re.ASCII)


def parse_ntu_name(name: str) -> dict | None:
    """'S001C002P003R001A050' -> {'setup': 1, 'camera': 2, 'subject': 3, 'replication': 1, 'action': 50}."""
    m = NTU_NAME.match(name)
    if m is None:
        return None
    setup, camera, subject, replication, action = map(int, m.groups())
    return dict(setup=setup, camera=camera, subject=subject, replication=replication, action=action)


def ntu_name_problem(fields: dict) -> str | None:
    """Why a well-formed NTU name cannot be a sample (None if it can): setup 1-32,
    camera 1-3, subject and replication >= 1, action 1-120 (1-60 for NTU-60 setups 1-17 are
    checked by the scope rule, not here)."""
    for key, low, high in (("setup", 1, 32), ("camera", 1, 3), ("subject", 1, 999), ("replication", 1, 999),
                           ("action", 1, 120)):
        if not low <= fields[key] <= high:
            return f"{key} {fields[key]} out of range {low}-{high} in the file name"
    return None


def parse_ucla_name(name: str) -> dict | None:
    """'a08_s02_e01_v03' -> {'action': 8, 'subject': 2, 'episode': 1, 'view': 3}."""
    m = UCLA_NAME.match(name)
    if m is None:
        return None
    action, subject, episode, view = map(int, m.groups())
    return dict(action=action, subject=subject, episode=episode, view=view)


def parse_name(dataset: str, name: str) -> dict | None:
    """The fields of a sample name of `dataset` (None if it is not one): its row's `parse_name`."""
    return DATASETS[dataset].parse_name(name)


def label_of(dataset: str, fields: dict) -> int:
    """0-based class label from the name's fields: its row's `label_of`."""
    return DATASETS[dataset].label_of(fields)


@cache
def split_rules() -> dict:
    return json.loads((MANIFESTS / "splits.json").read_text())


def split_of(dataset: str, benchmark: str, fields: dict) -> str:
    """'train' or 'test' for a sample of `dataset` under `benchmark`: its row's `split_of`."""
    return DATASETS[dataset].split_of(benchmark, fields)


def split_by_rule(dataset: str, benchmark: str, fields: dict) -> str:
    """'train' or 'test' by the rule of `dataset` and `benchmark` in data_manifests/splits.json: the training
    values of one field of the name (NTU, NW-UCLA)."""
    rule = split_rules()[dataset][benchmark]
    return "train" if fields[rule["field"]] in rule["train"] else "test"


@cache
def missing_list(dataset: str) -> frozenset:
    """The official list of samples with missing skeletons (the dataset row's file; empty where it names none)."""
    if not DATASETS[dataset].missing_list:
        return frozenset()
    path = MANIFESTS / DATASETS[dataset].missing_list
    parse = DATASETS[dataset].parse_name
    return frozenset(n.strip() for n in path.read_text().splitlines() if parse(n.strip()) is not None)
