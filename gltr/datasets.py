"""What gltr knows about each dataset (one table of rows, each with its functions), and the typed preprocessing
variant stored with every prepared dataset. Torch-free: the pipeline, training, the command line and the figures
all read it.

Adding a dataset: one `DatasetInfo` row in `DATASETS`, holding its numbers and its functions (find the raw files,
read one, parse a name, assign a split, name an action); docs/contributing.md, "Add a dataset".
"""
import re
from dataclasses import dataclass
from functools import partial
from typing import Callable

NTU_JOINTS = (
    "SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft",
    "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight", "SpineShoulder", "HandTipLeft",
    "ThumbLeft", "HandTipRight", "ThumbRight",
)
UCLA_JOINTS = (  # Kinect v1
    "HipCenter", "Spine", "ShoulderCenter", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft",
    "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight",
)
# Bones as (joint, joint) pairs, 0-based; each list is a tree over its joints (K - 1 bones).
NTU_BONES = (  # ST-GCN's / CTR-GCN's 1-based pairs (1,2) (2,21) (3,21) ... (22,23) (23,8), shifted to 0-based
    (0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8), (10, 9), (11, 10),
    (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18), (21, 22), (22, 7),
    (23, 24), (24, 11),
)
UCLA_BONES = (  # Kinect v1
    (0, 1), (1, 2), (3, 2), (4, 2), (5, 4), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9), (11, 10),
    (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18),
)
CROP = "crop to the first t_max frames"            # how a clip longer than t_max is shortened
WHOLE_FILE = "file"                                 # a sample is a whole file (NTU, NW-UCLA)
PKU_CLIPS = ("start:end", "start-1:end")           # a PKU-MMD instance: MAMP's rows [start:end), AimCLR's [start-1:end)
SUBSAMPLE = "uniform subsample to t_max"
# NW-UCLA action ids are not contiguous: a01-a06 -> 0-5, a08 -> 6, a09 -> 7, a11 -> 8, a12 -> 9.
UCLA_ACTIONS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)


def no_problem(fields: dict) -> None:
    """Every well-formed name names a sample (the default `name_problem`)."""
    return None


def everything(fields: dict) -> bool:
    """Every sample belongs to the dataset (the default `in_scope`)."""
    return True


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    raw_suffix: str
    persons: int                # P
    joint_names: tuple          # K names, in the raw files' order
    bones: tuple
    centre_joint: int           # the trajectory slot
    shoulders: tuple            # (left, right): the rotation's shoulder line
    t_max: int
    long_clips: str             # CROP or SUBSAMPLE
    body_rules: tuple           # accepted --bodies; the first is the faithful default
    benchmarks: tuple
    num_classes: int
    pretrain_preset: str        # the model preset the paper pretrains with
    pretrain_epochs: int        # the paper's pretraining length
    probe_epochs: int           # the linear probe's epochs
    # What the dataset does: plain functions (below the class, or the test's own for a toy dataset).
    discover: Callable          # (dataset, raw: Path, log) -> gltr.pipeline.discover.Found: the samples under `raw`
    read: Callable              # (path, variant, task) -> gltr.pipeline.sample.Sample of one task; SampleError if bad
    parse_name: Callable        # (raw file name without raw_suffix) -> its fields (a dict), or None if not a name
    name_pattern: str           # the names parse_name reads, as errors show them
    action_code: Callable       # (label) -> the dataset's own name of class `label`: "A050", "a08", "action 10"
    label_of: Callable | None = None      # (fields) -> 0-based class; None: `discover` labels each task itself
    split_of: Callable | None = None      # (benchmark, fields) -> "train" | "test"; None: `discover` splits each task
    name_problem: Callable = no_problem   # (fields) -> why a well-formed name cannot be a sample, or None
    in_scope: Callable = everything       # (fields) -> False for a sample of a larger set (counted as out of scope)
    available_names: Callable | None = None   # (data folder) -> every sample name the committed sample lists are
                                              # drawn from; None: lists come from the user's copy (gltr manifests)
    clip_rules: tuple = (WHOLE_FILE,)   # how a sample's frames are cut from its file; the first is the default
    missing_list: str = ""      # data_manifests file of the official samples without skeletons, if any

    @property
    def joints(self) -> int:
        return len(self.joint_names)


# ----------------------------------------------------------------------------- the rows' functions
# Those that run pipeline code import it when called: importing this module stays cheap and torch-free, and the
# pipeline (which imports this module) is loaded only by what prepares data.

def files_named_as_samples(dataset: str, raw, log=print):
    """One sample per raw file, named as the row's `parse_name` reads; labelled and split by the row's functions
    (NTU, NW-UCLA; gltr.pipeline.discover)."""
    from gltr.pipeline.discover import discover
    return discover(dataset, raw)


def instances_in_label_files(dataset: str, raw, log=print):
    """One sample per label row of each sequence, split by the split files (PKU-MMD; gltr.pipeline.pku)."""
    from gltr.pipeline.pku import discover_pku
    info = DATASETS[dataset]
    return discover_pku(dataset, raw, info.num_classes, info.benchmarks, log)


def read_skeleton_file(path, variant, task):
    """An NTU .skeleton file, its bodies chosen by the variant's body rule."""
    from gltr.pipeline.sample import read_ntu
    return read_ntu(path, variant)


def read_ucla_json(path, variant, task):
    """An NW-UCLA JSON file; a label inside it must agree with the name's."""
    from gltr.pipeline.sample import read_ucla
    return read_ucla(path, variant, task.label)


def read_pku_instance(path, variant, task):
    """One label row's frames of a PKU-MMD sequence file."""
    from gltr.pipeline.sample import read_pku
    return read_pku(path, variant, task.fields)


def ntu_name(name: str) -> dict | None:
    from gltr.pipeline.names import parse_ntu_name
    return parse_ntu_name(name)


def ntu_problem(fields: dict) -> str | None:
    from gltr.pipeline.names import ntu_name_problem
    return ntu_name_problem(fields)


def ntu60_scope(fields: dict) -> bool:
    """NTU-60 is setups 1-17 with actions 1-60 (NTU-120 is everything)."""
    return fields["setup"] <= 17 and fields["action"] <= 60


def ucla_name(name: str) -> dict | None:
    from gltr.pipeline.names import parse_ucla_name
    return parse_ucla_name(name)


def ucla_problem(fields: dict) -> str | None:
    return None if fields["action"] in UCLA_ACTIONS else f"unknown NW-UCLA action a{fields['action']:02d}"


def pku_sequence_name(pattern: str, name: str) -> dict | None:
    """{'view': 1-3} of a PKU-MMD sequence name matching `pattern` ('0002-L', 'A01N02-R'; views L, M, R)."""
    return {"view": "LMR".index(name[-1]) + 1} if re.fullmatch(pattern, name, re.ASCII) else None


def action_minus_one(fields: dict) -> int:
    return fields["action"] - 1


def ucla_label(fields: dict) -> int:
    return UCLA_ACTIONS.index(fields["action"])


def split_by_rule(dataset: str, benchmark: str, fields: dict) -> str:
    """The split rule of `dataset` in data_manifests/splits.json (bound to a row with functools.partial)."""
    from gltr.pipeline.names import split_by_rule
    return split_by_rule(dataset, benchmark, fields)


def ntu_action(label: int) -> str:
    return f"A{label + 1:03d}"


def ucla_action(label: int) -> str:
    return f"a{UCLA_ACTIONS[label]:02d}"                 # NW-UCLA has no actions 7 and 10


def pku_action(label: int) -> str:
    return f"action {label + 1}"


def ntu_available(dataset: str, data) -> list:
    from gltr.pipeline.sample_lists import ntu_available_names
    return ntu_available_names(dataset, data)


def ucla_available(data) -> list:
    from gltr.pipeline.sample_lists import ucla_available_names
    return ucla_available_names(data)


# ----------------------------------------------------------------------------- the table

NTU_FUNCTIONS = dict(discover=files_named_as_samples, read=read_skeleton_file, parse_name=ntu_name,
                     name_pattern="SsssCcccPpppRrrrAaaa", action_code=ntu_action, label_of=action_minus_one,
                     name_problem=ntu_problem)                       # shared by NTU-60 and NTU-120
PKU_FUNCTIONS = dict(discover=instances_in_label_files, read=read_pku_instance, action_code=pku_action,
                     clip_rules=PKU_CLIPS)                           # shared by both PKU-MMD phases

DATASETS = {
    "ntu60": DatasetInfo("ntu60", ".skeleton", 2, NTU_JOINTS, NTU_BONES, 20, (4, 8), 300, CROP,
                         ("first2", "energy", "denoise"), ("xsub", "xview"), 60, "ntu", 120, 120, **NTU_FUNCTIONS,
                         split_of=partial(split_by_rule, "ntu60"), in_scope=ntu60_scope,
                         available_names=partial(ntu_available, "ntu60"), missing_list="ntu60_missing.txt"),
    "ntu120": DatasetInfo("ntu120", ".skeleton", 2, NTU_JOINTS, NTU_BONES, 20, (4, 8), 300, CROP,
                          ("energy", "first2", "denoise"), ("xsub", "xset"), 120, "ntu", 120, 120, **NTU_FUNCTIONS,
                          split_of=partial(split_by_rule, "ntu120"),
                          available_names=partial(ntu_available, "ntu120"), missing_list="ntu120_missing.txt"),
    "nwucla": DatasetInfo("nwucla", ".json", 1, UCLA_JOINTS, UCLA_BONES, 2, (4, 8), 50, SUBSAMPLE,
                          ("single",), ("view",), 10, "nwucla", 300, 300, discover=files_named_as_samples,
                          read=read_ucla_json, parse_name=ucla_name, name_pattern="aAA_sSS_eEE_vVV",
                          action_code=ucla_action, label_of=ucla_label, split_of=partial(split_by_rule, "nwucla"),
                          name_problem=ucla_problem, available_names=ucla_available),
    # PKU-MMD: Kinect v2 like NTU (same joints, bones, centre and long-clip rule), both bodies of the file kept;
    # parse_name reads the sequence files' names, the label and split files give each instance's class and split
    "pkummd1": DatasetInfo("pkummd1", ".txt", 2, NTU_JOINTS, NTU_BONES, 20, (4, 8), 300, CROP,
                           ("both",), ("xsub", "xview"), 51, "ntu", 120, 120, **PKU_FUNCTIONS,
                           parse_name=partial(pku_sequence_name, r"[0-9]{4}-[LMR]"), name_pattern="NNNN-L|M|R"),
    "pkummd2": DatasetInfo("pkummd2", ".txt", 2, NTU_JOINTS, NTU_BONES, 20, (4, 8), 300, CROP,
                           ("both",), ("xsub", "xview"), 41, "ntu", 120, 120, **PKU_FUNCTIONS,
                           parse_name=partial(pku_sequence_name, r"A[0-9]{2}N[0-9]{2}-[LMR]"),
                           name_pattern="AaaNnn-L|M|R"),
}
INTERVALS = (1, 5, 10)          # MPDP prediction intervals (frames)
ROTATIONS = ("sequence", "per-frame")   # the rotation-sign rules (gltr.pipeline.normalize)

# The shard schema: the members of one sample in a WebDataset shard, shared by writer and reader. The motion is a
# gzip-compressed .npy (stock webdataset's .decode() returns it as an array). The MPDP labels are in store.zarr, not
# in the shards: training recomputes them per batch from the (augmented) motion. MOTION_NPY: the member once
# decompressed, and as shards gltr wrote before 2026-12 hold it (their mpdp.npy members are not read).
MOTION, LABEL, META = "motion.npy.gz", "cls", "json"
MOTION_NPY = "motion.npy"


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name]


def benchmark_help() -> str:
    """The --benchmark help, from the rows: 'benchmark: xsub / xview (ntu60, pkummd1, pkummd2), xsub / xset …'."""
    groups = {}
    for info in DATASETS.values():
        groups.setdefault(" / ".join(info.benchmarks), []).append(info.name)
    return "benchmark: " + ", ".join(f"{b} ({', '.join(names)})" for b, names in groups.items())


# ----------------------------------------------------------------------------- the variant

VARIANT_LAYOUT = 2              # bump when a field changes meaning; from_dict refuses layouts it does not know
# 2 (2026-12): `clip` added (how a sample's frames are cut from its file; a layout-1 variant reads as clip "file"),
#    and the shards hold motion.npy.gz without MPDP labels (the loader still reads layout 1's plain .npy shards).
DERIVED = ("persons", "joints", "centre_joint", "shoulders", "intervals", "t_max", "long_clips", "joint_names")
STORED = ("dataset", "bodies", "rotation", *DERIVED, "clip", "layout")    # the stored variant's keys, in order


@dataclass(frozen=True)
class Variant:
    """Every choice that changes the prepared numbers. Stored with them (store.zarr attributes, every shard index,
    prepare.json, checkpoints) together with the dataset's own numbers they apply to (DERIVED), so that a reader
    sees every number that shaped a sample; from_dict checks those against the dataset's row."""
    dataset: str
    bodies: str
    rotation: str
    clip: str = WHOLE_FILE
    layout: int = VARIANT_LAYOUT

    @property
    def info(self) -> DatasetInfo:
        return DATASETS[self.dataset]

    @property
    def persons(self) -> int:
        return self.info.persons

    @property
    def joints(self) -> int:
        return self.info.joints

    @property
    def centre_joint(self) -> int:
        return self.info.centre_joint

    @property
    def shoulders(self) -> tuple:
        return self.info.shoulders

    @property
    def intervals(self) -> tuple:
        return INTERVALS

    @property
    def t_max(self) -> int:
        return self.info.t_max

    @property
    def long_clips(self) -> str:
        return self.info.long_clips

    @property
    def joint_names(self) -> tuple:
        return self.info.joint_names

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k in STORED for v in [getattr(self, k)]}

    @classmethod
    def from_dict(cls, d: dict, source: str | None = None) -> "Variant":
        """The variant stored in `source` (named in errors), its dataset's numbers checked field by field against
        the dataset's own (only the body, rotation and clip rules are choices). Written before the layout field
        existed: layout 1. Without `source`, the caller names the file (a record's field)."""
        where = f"{source}: " if source else ""
        if not isinstance(d, dict):
            raise ValueError(f"{where}the variant is not a JSON object")
        layout = d.get("layout", 1)
        if layout == 1 and isinstance(d.get("dataset"), str) and "clip" not in d:
            d, layout = {**d, "clip": WHOLE_FILE}, VARIANT_LAYOUT     # layout 1 had no clip: every sample was a file
        if layout != VARIANT_LAYOUT:
            newer = isinstance(layout, int) and layout > VARIANT_LAYOUT
            raise ValueError(f"{where}variant layout {layout}, this gltr reads layout {VARIANT_LAYOUT}; "
                             + ("update gltr" if newer else "prepare the dataset again with this gltr"))
        missing, unknown = set(STORED) - set(d) - {"layout"}, set(d) - set(STORED)
        if missing or unknown:
            raise ValueError(f"{where}the variant " + "; ".join(
                part for part in (f"lacks {', '.join(sorted(missing))}" if missing else "",
                                  f"has unknown {', '.join(sorted(unknown))}" if unknown else "") if part))
        if not isinstance(d["dataset"], str) or d["dataset"] not in DATASETS:
            raise ValueError(f"{where}unknown dataset {d['dataset']!r} in the variant")
        if d["rotation"] not in ROTATIONS or not isinstance(d["bodies"], str):
            raise ValueError(f"{where}the variant's rotation {d['rotation']!r} or bodies {d['bodies']!r} is not a "
                             f"rule gltr knows")
        try:
            variant = make_variant(d["dataset"], d["bodies"], d["rotation"],
                                   d["clip"] if isinstance(d["clip"], str) else repr(d["clip"]))
        except ValueError as e:
            raise ValueError(f"{where}{e}") from None
        for name in DERIVED:
            stored = tuple(d[name]) if isinstance(d[name], list) else d[name]
            if stored != getattr(variant, name):
                raise ValueError(f"{where}the variant's {name} {stored!r} is not "
                                 f"{variant.dataset}'s ({getattr(variant, name)!r})")
        return variant


def make_variant(dataset: str, bodies: str | None = None, rotation: str | None = None,
                 clip: str | None = None) -> Variant:
    """The faithful variant of `dataset`, with the body, rotation and clip rules optionally changed (None: the
    faithful rule, the first of the dataset's body_rules and clip_rules and of ROTATIONS)."""
    info = dataset_info(dataset)
    if bodies is not None and bodies not in info.body_rules:
        if info.body_rules == ("single",):
            raise ValueError(f"{info.name} has one person per clip: --bodies does not apply")
        if info.body_rules == ("both",):
            raise ValueError(f"{info.name} keeps both bodies its files hold: --bodies does not apply")
        raise ValueError(f"--bodies {bodies!r}: {info.name} accepts {', '.join(info.body_rules)}")
    if clip is not None and clip not in info.clip_rules:
        raise ValueError(f"--clip {clip!r}: {info.name} accepts {', '.join(info.clip_rules)}")
    return Variant(dataset=dataset, bodies=bodies or info.body_rules[0], rotation=rotation or ROTATIONS[0],
                   clip=clip or info.clip_rules[0])
