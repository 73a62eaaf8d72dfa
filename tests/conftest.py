"""Shared fixtures. Real data comes from ../shared/data (or $GLTR_REAL_DATA); tests needing it skip without it."""
import os
from pathlib import Path

import pytest

from gltr import resources

resources.apply()          # the CLI's thread policy for the test process too: threads = idle CPUs

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("GLTR_REAL_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def real() -> Path:
    if not (REAL / "ntu_skeleton").is_dir():
        pytest.skip(f"real data not found at {REAL} (set GLTR_REAL_DATA)")
    return REAL


@pytest.fixture(scope="session")
def synth_ntu_raw(tmp_path_factory) -> Path:
    from gltr.pipeline.synth import synth_ntu
    out = tmp_path_factory.mktemp("synth_ntu")
    synth_ntu(out, 60, seed=0, classes=6)
    return out


@pytest.fixture(scope="session")
def synth_ntu_prepared(synth_ntu_raw, tmp_path_factory) -> Path:
    from gltr.pipeline.prepare import prepare
    out = tmp_path_factory.mktemp("prepared") / "ntu120"
    prepare("ntu120", synth_ntu_raw, out, shard_size=16, log=lambda line: None)
    return out


@pytest.fixture(scope="session")
def ucla_prepared(real, tmp_path_factory) -> Path:
    from gltr.pipeline.prepare import prepare
    out = tmp_path_factory.mktemp("prepared") / "nwucla"
    prepare("nwucla", real / "nw_ucla", out, workers=2, log=lambda line: None)
    return out


@pytest.fixture(scope="session")
def tiny_run(synth_ntu_prepared, tmp_path_factory) -> Path:
    """A one-epoch tiny() pretraining run on the synthetic NTU set (its checkpoints/latest.pt)."""
    from gltr.train.pretrain import PretrainConfig, train
    out = tmp_path_factory.mktemp("tiny_run")
    train(PretrainConfig(data=str(synth_ntu_prepared), benchmark="xsub", out=str(out), preset="tiny", epochs=1,
                         batch_size=8, lr=1e-3, workers=0))
    return out
