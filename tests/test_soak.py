"""The soak benchmark at tiny size (`make fulltest`): memory stays flat with the per-epoch release, and the
release is what keeps it so."""
import pytest


@pytest.mark.slow
def test_memory_is_flat_with_the_release_and_larger_without(real, tmp_path):
    from gltr.bench import soak_bench
    r = soak_bench.run(tmp_path, real, quick=True)
    for kind in ("pretrain", "finetune", "linear"):
        assert r["with_release"][kind]["flat"], (kind, r["with_release"][kind])
    for kind in ("pretrain", "finetune"):
        assert r["without_release"][kind]["last_mb"] > r["with_release"][kind]["last_mb"], kind
