"""What gltr knows about each dataset (one table), and the typed preprocessing variant stored with
every prepared dataset. Torch-free: the pipeline, training, the command line and the figures all
read it.

Adding a dataset: a `DatasetInfo` row in `DATASETS`, its split rule in data_manifests/splits.json,
and, if its raw files are in a new format, a reader in gltr/pipeline/sample.py (docs/contributing.md).
"""
from dataclasses import asdict, dataclass, fields

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


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    family: str                 # "ntu" (.skeleton, SsssCcccPpppRrrrAaaa), "nwucla" (JSON, aAA_sSS_eEE_vVV) or "pku" (text)
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
    clip_rules: tuple = (WHOLE_FILE,)   # how a sample's frames are cut from its file; the first is the default
    name_format: str = "ntu"    # the sample names' grammar (gltr.pipeline.names.NAME_PARSERS)
    action_ids: tuple = ()      # the names' action ids in label order; empty: label = action - 1
    missing_list: str = ""      # data_manifests file of the official samples without skeletons, if any

    @property
    def joints(self) -> int:
        return len(self.joint_names)


DATASETS = {
    "ntu60": DatasetInfo("ntu60", "ntu", ".skeleton", 2, NTU_JOINTS, NTU_BONES, 20, (4, 8), 300, CROP,
                         ("first2", "energy", "denoise"), ("xsub", "xview"), 60, "ntu", 120, 120,
                         missing_list="ntu60_missing.txt"),
    "ntu120": DatasetInfo("ntu120", "ntu", ".skeleton", 2, NTU_JOINTS, NTU_BONES, 20, (4, 8), 300, CROP,
                          ("energy", "first2", "denoise"), ("xsub", "xset"), 120, "ntu", 120, 120,
                          missing_list="ntu120_missing.txt"),
    "nwucla": DatasetInfo("nwucla", "nwucla", ".json", 1, UCLA_JOINTS, UCLA_BONES, 2, (4, 8), 50, SUBSAMPLE,
                          ("single",), ("view",), 10, "nwucla", 300, 300, name_format="nwucla",
                          action_ids=UCLA_ACTIONS),
    # PKU-MMD: Kinect v2 like NTU (same joints, bones, centre and long-clip rule), both bodies of the file kept
    "pkummd1": DatasetInfo("pkummd1", "pku", ".txt", 2, NTU_JOINTS, NTU_BONES, 20, (4, 8), 300, CROP,
                           ("both",), ("xsub", "xview"), 51, "ntu", 120, 120, PKU_CLIPS),
    "pkummd2": DatasetInfo("pkummd2", "pku", ".txt", 2, NTU_JOINTS, NTU_BONES, 20, (4, 8), 300, CROP,
                           ("both",), ("xsub", "xview"), 41, "ntu", 120, 120, PKU_CLIPS),
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


# ----------------------------------------------------------------------------- the variant

VARIANT_LAYOUT = 2              # bump when a field changes meaning; from_dict refuses layouts it does not know
# 2 (2026-12): `clip` added (how a sample's frames are cut from its file; a layout-1 variant reads as clip "file"),
#    and the shards hold motion.npy.gz without MPDP labels (the loader still reads layout 1's plain .npy shards).


@dataclass(frozen=True)
class Variant:
    """Every choice that changes the prepared numbers, stored with them (store.zarr attributes,
    every shard index, prepare.json, checkpoints)."""
    dataset: str
    bodies: str
    rotation: str
    persons: int
    joints: int
    centre_joint: int
    shoulders: tuple
    intervals: tuple
    t_max: int
    long_clips: str
    joint_names: tuple
    clip: str = WHOLE_FILE
    layout: int = VARIANT_LAYOUT

    @property
    def info(self) -> DatasetInfo:
        return DATASETS[self.dataset]

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict, source: str) -> "Variant":
        """The variant stored in `source` (named in errors), checked field by field against its dataset's own
        (only the body and rotation rules are choices). Written before the layout field existed: layout 1."""
        if not isinstance(d, dict):
            raise ValueError(f"{source}: the variant is not a JSON object")
        layout = d.get("layout", 1)
        if layout == 1 and isinstance(d.get("dataset"), str) and "clip" not in d:
            d, layout = {**d, "clip": WHOLE_FILE}, VARIANT_LAYOUT     # layout 1 had no clip: every sample was a file
        if layout != VARIANT_LAYOUT:
            newer = isinstance(layout, int) and layout > VARIANT_LAYOUT
            raise ValueError(f"{source}: variant layout {layout}, this gltr reads layout {VARIANT_LAYOUT}; "
                             + ("update gltr" if newer else "prepare the dataset again with this gltr"))
        names = {f.name for f in fields(cls)}
        missing, unknown = names - set(d) - {"layout"}, set(d) - names
        if missing or unknown:
            raise ValueError(f"{source}: the variant " + "; ".join(
                part for part in (f"lacks {', '.join(sorted(missing))}" if missing else "",
                                  f"has unknown {', '.join(sorted(unknown))}" if unknown else "") if part))
        if not isinstance(d["dataset"], str) or d["dataset"] not in DATASETS:
            raise ValueError(f"{source}: unknown dataset {d['dataset']!r} in the variant")
        if d["rotation"] not in ROTATIONS or not isinstance(d["bodies"], str):
            raise ValueError(f"{source}: the variant's rotation {d['rotation']!r} or bodies {d['bodies']!r} is not a "
                             f"rule gltr knows")
        variant = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in {**d, "layout": layout}.items()})
        try:
            expected = make_variant(variant.dataset, variant.bodies, variant.rotation,
                                    variant.clip if isinstance(variant.clip, str) else repr(variant.clip))
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None
        for f in fields(cls):
            if getattr(variant, f.name) != getattr(expected, f.name):
                raise ValueError(f"{source}: the variant's {f.name} {getattr(variant, f.name)!r} is not "
                                 f"{variant.dataset}'s ({getattr(expected, f.name)!r})")
        return variant


def make_variant(dataset: str, bodies: str | None = None, rotation: str = "sequence",
                 clip: str | None = None) -> Variant:
    """The faithful variant of `dataset`, with the body, rotation and clip rules optionally changed."""
    info = dataset_info(dataset)
    if bodies is not None and bodies not in info.body_rules:
        if info.body_rules == ("single",):
            raise ValueError(f"{info.name} has one person per clip: --bodies does not apply")
        if info.body_rules == ("both",):
            raise ValueError(f"{info.name} keeps both bodies its files hold: --bodies does not apply")
        raise ValueError(f"--bodies {bodies!r}: {info.name} accepts {', '.join(info.body_rules)}")
    if clip is not None and clip not in info.clip_rules:
        raise ValueError(f"--clip {clip!r}: {info.name} accepts {', '.join(info.clip_rules)}")
    return Variant(dataset=dataset, bodies=bodies or info.body_rules[0], rotation=rotation, persons=info.persons,
                   joints=info.joints, centre_joint=info.centre_joint, shoulders=info.shoulders,
                   intervals=INTERVALS, t_max=info.t_max, long_clips=info.long_clips, joint_names=info.joint_names,
                   clip=clip or info.clip_rules[0])
