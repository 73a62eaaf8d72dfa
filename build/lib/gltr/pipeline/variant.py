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
