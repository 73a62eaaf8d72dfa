"""The preprocessing variant: every choice that changes the prepared numbers, stored with them."""
from gltr.pipeline.mpdp import INTERVALS

NTU_JOINTS = [
    "SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft",
    "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight", "SpineShoulder", "HandTipLeft",
    "ThumbLeft", "HandTipRight", "ThumbRight",
]
UCLA_JOINTS = [  # Kinect v1
    "HipCenter", "Spine", "ShoulderCenter", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft",
    "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight",
]
# Bones as (joint, joint) pairs, 0-based; each a tree over its joints (K - 1 bones).
NTU_BONES = [  # ST-GCN's / CTR-GCN's 1-based pairs (1,2) (2,21) (3,21) ... (22,23) (23,8), shifted to 0-based
    (0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8), (10, 9), (11, 10),
    (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18), (21, 22), (22, 7),
    (23, 24), (24, 11),
]
UCLA_BONES = [  # Kinect v1
    (0, 1), (1, 2), (3, 2), (4, 2), (5, 4), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9), (11, 10),
    (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18),
]
BONES = {"ntu60": NTU_BONES, "ntu120": NTU_BONES, "nwucla": UCLA_BONES}
DEFAULT_BODIES = {"ntu60": "first2", "ntu120": "energy", "nwucla": "single"}


def make_variant(dataset: str, bodies: str | None = None, rotation: str = "sequence") -> dict:
    """The faithful variant of `dataset`, with the body and rotation rules optionally changed."""
    if dataset == "nwucla":
        if bodies not in (None, "single"):
            raise ValueError("NW-UCLA has one person per clip: --bodies does not apply")
        return dict(dataset=dataset, bodies="single", rotation=rotation, persons=1, joints=20,
                    centre_joint=2, shoulders=[4, 8], intervals=list(INTERVALS), t_max=50,
                    long_clips="uniform subsample to t_max", joint_names=UCLA_JOINTS)
    if dataset not in ("ntu60", "ntu120"):
        raise ValueError(f"unknown dataset {dataset!r}")
    return dict(dataset=dataset, bodies=bodies or DEFAULT_BODIES[dataset], rotation=rotation, persons=2,
                joints=25, centre_joint=20, shoulders=[4, 8], intervals=list(INTERVALS), t_max=300,
                long_clips="crop to the first t_max frames", joint_names=NTU_JOINTS)
