"""Property-based fuzzing (hypothesis) of every input gltr reads from outside: mutated real / synthetic
NTU, NW-UCLA and PKU-MMD raw files, shard index JSONs, shard tar bytes, prepare.json (read by inspect, verify
and the exports), a run's evaluation JSONs (read by report), checkpoints with a tampered meta and a
recomputed digest, and adversarial values of the CLI's numeric options. Each example either works or fails
with a one-line reason; none crashes, hangs, prints a usage block or yields a non-finite number. `make fuzz`
runs the same mutations and checks (gltr/bench/fuzz.py, fuzz_targets.py, fuzz_commands.py) at scale and writes bench/fuzz.json."""
import os
import time

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings, strategies as st  # noqa: E402

from gltr.bench import fuzz, fuzz_commands, fuzz_targets  # noqa: E402

PARAMS = st.tuples(st.integers(0, 1 << 30), st.integers(0, len(fuzz.OPS) - 1), st.floats(0, 1, exclude_max=True),
                   st.integers(0, 1 << 30), st.integers(0, 1 << 30))


def grid_params(kind):
    return st.tuples(st.integers(0, fuzz_targets.grid_size(kind) - 1), st.just(0), st.just(0.0), st.just(0),
                     st.just(0))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    import torch
    from conftest import REAL
    torch.set_num_threads(1)               # as `make fuzz`: forked examples never inherit a busy thread pool
    return fuzz_targets.seeds(REAL, tmp_path_factory.mktemp("fuzz_seeds"))


@pytest.mark.parametrize("kind, examples", [("ntu", 60), ("nwucla", 60), ("pku", 60), ("index", 40), ("tar", 40),
                                            ("prepare_json", 14), ("eval_json", 10), ("checkpoint", 10),
                                            ("options", 10)])
def test_mutated_inputs_fail_cleanly_or_work(kind, examples, inputs, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"fuzz_{kind}")
    seen = []

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))            # no shrinking: a failure is reported as found
    @given(params=grid_params(kind) if fuzz_targets.grid_size(kind) else PARAMS)
    def check(params):
        fuzz.LAST_CHILD["peak_mb"] = 0.0
        outcome, message = fuzz_targets.example(kind, inputs, folder, params)
        seen.append(outcome)
        assert outcome in ("ok", "refused"), (kind, params, fuzz_commands.LAST["what"], outcome, message)
        assert not fuzz.MEMORY.search(message) and fuzz.LAST_CHILD["peak_mb"] < fuzz.OVER_MB, (kind, params, message)

    check()
    assert len(seen) >= examples // 2


def test_the_mutations_and_the_checks_can_fail():
    """The checks are not vacuous: unmutated inputs work, known-bad ones are refused or flagged."""
    assert fuzz.mutate(b"12 34\n56", fuzz.OPS.index("extreme_number"), 0.0, 0) == b"1e39 34\n56"
    assert fuzz.mutate(b"abc", fuzz.OPS.index("truncate"), 0.5, 0) == b"a"
    assert fuzz.bounded(lambda: 1 / 0)[0] == "crash"
    assert fuzz.bounded(lambda: (_ for _ in ()).throw(ValueError("one line")))[0] == "refused"
    assert fuzz.bounded(lambda: (_ for _ in ()).throw(ValueError("two\nlines")))[0] == "crash"
    doc = b'{"a": {"b": 1}, "c": [2]}'
    assert fuzz.json_paths({"a": {"b": 1}, "c": [2]}) == [("a",), ("a", "b"), ("c",), ("c", 0)]
    assert fuzz.mutate_json(doc, (1, 0, 0.0, 0, 1)) == (b'{"a": {"b": 10000000000000}, "c": [2]}', "a/b = 10000000000000")
    assert fuzz.mutate_json(doc, (0, 0, 0.0, 0, 3))[0] == b'{"../../evil; id": {"b": 1}, "c": [2]}'
    assert fuzz.mutate_json(doc, (0, 0, 0.0, 2, 4))[0] == b"null"


def test_cli_outcomes_are_told_apart():
    usage = "Usage: gltr knn [OPTIONS]\nTry 'gltr knn --help' for help.\n\nError: Invalid value for '--k': 'x'\n"
    assert fuzz.cli_outcome(2, "", usage, None)[0] == "usage_block"
    assert fuzz.cli_outcome(2, "", "error: --k: must be at least 1\n", None)[0] == "refused"
    assert fuzz.cli_outcome(1, "", "pass 1 of 2\nerror: x.npz: the disk is full\n", None)[0] == "refused"
    assert fuzz.cli_outcome(1, "", "error: one\nand its second line\n", None)[0] == "crash"
    assert fuzz.cli_outcome(3, "", "error: internal error (KeyError: 'x'); please report it\n", None)[0] == "crash"
    assert fuzz.cli_outcome(1, "", "", OverflowError("x"))[0] == "crash"
    assert fuzz.cli_outcome(0, "top-1 nan\n", "", None)[0] == "non_finite"
    assert fuzz.cli_outcome(0, "top-1 50.0 (info)\n", "", None)[0] == "ok"


def _sleep():
    time.sleep(30)
    return "ok", ""


def _fork_many():
    for _ in range(2 * fuzz.CHILD_PROCESSES):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
    time.sleep(30)
    return "ok", ""


def _allocate():
    return "ok", str(len(bytearray(fuzz.CHILD_HEADROOM + (1 << 30))))


def test_forked_examples_are_bounded():
    """A forked example that sleeps is a hang, one that forks without end is stopped, one that allocates past
    its headroom fails with a MemoryError the run counts as over 1 GB; the parent is never blocked."""
    started = time.monotonic()
    assert fuzz.isolated(_sleep, deadline=1.0)[0] == "hang"
    assert fuzz.isolated(_fork_many, deadline=10.0) == ("crash", f"started more than {fuzz.CHILD_PROCESSES} processes")
    outcome, message = fuzz.isolated(_allocate)
    assert outcome == "crash" and fuzz.MEMORY.search(message)
    assert fuzz.isolated(lambda: ("ok", "")) == ("ok", "")
    assert time.monotonic() - started < 15


def test_unmutated_inputs_pass(inputs, tmp_path):
    name, data = inputs["ntu"][0]
    assert fuzz.bounded(fuzz_targets.check_raw, "ntu", data, tmp_path, name)[0] == "ok"
    name, skeleton, labels = inputs["pku"]["sequences"][-1]
    assert fuzz.bounded(fuzz_targets.check_pku, tmp_path / "raw", name, skeleton, labels, inputs["pku"]["split"],
                        "start:end") == ("ok", "")
    assert fuzz.bounded(fuzz_targets.check_index, inputs["prepared"], tmp_path, inputs["index"], "view")[0] == "ok"
    assert fuzz.bounded(fuzz_targets.check_tar, inputs["prepared"], tmp_path, inputs["shard"], "view")[0] == "ok"
    for what, dataset, template in fuzz_commands.PREPARE_READERS:
        args = fuzz_commands.fill(template, D=inputs["pj"][dataset], X=tmp_path / what.replace(" ", "_"))
        assert fuzz.isolated(fuzz_commands.run_cli, args) == ("ok", ""), what
    assert fuzz.isolated(fuzz_commands.run_cli, ["report", inputs["ej_run"], "--no-figures"]) == ("ok", "")
    pt = tmp_path / "checkpoints" / "latest.pt"
    fuzz_commands.write_checkpoint(inputs["state"], inputs["meta"], ("epoch",), 0, pt)
    assert fuzz.isolated(fuzz_commands.check_checkpoint, pt, inputs["prepared"]) == ("ok", "")
