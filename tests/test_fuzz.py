"""Property-based fuzzing (hypothesis) of every input gltr reads from outside: mutated real / synthetic
NTU and NW-UCLA raw files, shard index JSONs and shard tar bytes. Each example either works or fails
with a one-line reason; none crashes, hangs or yields a non-finite number. `make fuzz` runs the same
mutations and checks (gltr/bench/fuzz.py) for 10,000 examples and writes bench/fuzz.json."""
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from gltr.bench import fuzz  # noqa: E402

PARAMS = st.tuples(st.integers(0, 1 << 30), st.integers(0, len(fuzz.OPS) - 1), st.floats(0, 1, exclude_max=True),
                   st.integers(0, 1 << 30), st.integers(0, 1 << 30))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from conftest import REAL
    return fuzz.seeds(REAL, tmp_path_factory.mktemp("fuzz_seeds"))


@pytest.mark.parametrize("kind, examples", [("ntu", 60), ("nwucla", 60), ("index", 40), ("tar", 40)])
def test_mutated_inputs_fail_cleanly_or_work(kind, examples, inputs, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"fuzz_{kind}")
    seen = []

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(params=PARAMS)
    def check(params):
        outcome, message = fuzz.example(kind, inputs, folder, params)
        seen.append(outcome)
        assert outcome in ("ok", "refused"), (kind, params, outcome, message)

    check()
    assert len(seen) >= examples // 2


def test_the_mutations_and_the_checks_can_fail():
    """The checks are not vacuous: unmutated inputs work, known-bad ones are refused or flagged."""
    assert fuzz.mutate(b"12 34\n56", fuzz.OPS.index("extreme_number"), 0.0, 0) == b"1e39 34\n56"
    assert fuzz.mutate(b"abc", fuzz.OPS.index("truncate"), 0.5, 0) == b"a"
    assert fuzz.bounded(lambda: 1 / 0)[0] == "crash"
    assert fuzz.bounded(lambda: (_ for _ in ()).throw(ValueError("one line")))[0] == "refused"
    assert fuzz.bounded(lambda: (_ for _ in ()).throw(ValueError("two\nlines")))[0] == "crash"


def test_unmutated_inputs_pass(inputs, tmp_path):
    name, data = inputs["ntu"][0]
    assert fuzz.bounded(fuzz.check_raw, "ntu", data, tmp_path, name)[0] == "ok"
    assert fuzz.bounded(fuzz.check_index, inputs["prepared"], tmp_path, inputs["index"], "view")[0] == "ok"
    assert fuzz.bounded(fuzz.check_tar, inputs["prepared"], tmp_path, inputs["shard"], "view")[0] == "ok"
