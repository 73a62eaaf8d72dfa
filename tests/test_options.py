"""Every numeric option is declared once with its range (gltr/configs.py) and read by the command line: 0 never
means "the default", every count is >= 1, and a bad value, or any usage error, is one line `error: --OPTION: …`
with exit 2 — before anything is written, with no numpy warning (issue 25, "Options")."""
import math
import os
import sys
import warnings
from dataclasses import fields

import pytest
from typer.testing import CliRunner

from gltr import configs
from gltr.cli.main import app
from helpers import gltr

COUNT = ("0", "-4", "99999999999999999999", "abc", "3.5", "1e308")     # a count: a whole number >= 1
ZERO_OK = ("-4", "99999999999999999999", "abc", "3.5")                  # workers, seeds, warm-up: >= 0
LR = ("0", "-4", "nan", "inf", "-inf", "1e308", "abc")                  # > 0, finite
DECAY = ("-4", "nan", "inf", "1e308")                                   # weight decay: >= 0, finite
FACTOR = ("0", "-4", "1.5", "nan")                                      # lr decay per epoch, layer decay: (0, 1]
FRACTION = ("-4", "1", "nan", "inf")                                    # label smoothing, drop path: [0, 1)
MINUTES = ("0", "-4", "nan", "inf", "1e308")

ROWS = {                                                                # command: {option: bad values}
    "pretrain": {"--epochs": COUNT, "--batch-size": COUNT, "--lr": LR, "--weight-decay": DECAY, "--lr-decay": FACTOR,
                 "--warmup-epochs": ZERO_OK, "--workers": ZERO_OK, "--seed": ZERO_OK + ("4294967296",),
                 "--save-every": COUNT, "--max-steps": COUNT, "--time-budget-min": MINUTES},
    "linear": {"--epochs": COUNT, "--batch-size": COUNT, "--lr": LR, "--seed": ZERO_OK, "--workers": ZERO_OK},
    "knn": {"--k": COUNT, "--workers": ZERO_OK, "--seed": ZERO_OK},
    "semi": {"--percent": ("0", "7", "-4", "abc"), "--seed": ZERO_OK, "--epochs": COUNT, "--batch-size": COUNT,
             "--lr": LR, "--head-lr": LR, "--workers": ZERO_OK},
    "finetune": {"--seed": ("-4",), "--epochs": COUNT, "--batch-size": COUNT, "--lr": LR, "--head-lr": ("0", "nan"),
                 "--weight-decay": DECAY, "--warmup-epochs": ZERO_OK, "--layer-decay": FACTOR,
                 "--label-smoothing": FRACTION, "--drop-path": FRACTION, "--workers": ZERO_OK},
    "attention": {"--samples": COUNT, "--frames": COUNT, "--batch-size": COUNT + ("65",), "--workers": ZERO_OK},
    "demo": {"--samples": ("0", "19", "-4", "abc"), "--classes": ("0", "1", "11"), "--epochs": COUNT,
             "--probe-epochs": COUNT, "--workers": ("0", "-4")},
    "evidence": {"--workers": ZERO_OK, "--semi-seed": ("-4", "99999999999999999999")},
    "synth": {"--samples": COUNT, "--seed": ZERO_OK, "--classes": ("0", "121")},
    "prepare": {"--workers": ("0", "-4", "abc"), "--shard-size": COUNT},
    "show": {"--frames": ("0", "-4", "65", "abc")},
    "model": {"--frames": COUNT},
    "export ctrgcn": {"--workers": ("0", "-4")},
    "gltr": {"--threads": ("0", "-4", "4097", "99999999999999999999", "abc")},
}
CASES = [(command, option, value) for command, options in ROWS.items() for option, values in options.items()
         for value in values]


def base(command: str, p: dict) -> list:
    """A valid invocation of `command` (writing only into p['out'])."""
    data, out = p["data"], p["out"]
    random = ["--data", data, "--benchmark", "xsub", "--random-init", "--preset", "tiny", "--out", out]
    return {"pretrain": ["pretrain", "--data", data, "--benchmark", "xsub", "--preset", "tiny", "--workers", "0",
                         "--out", out],
            "linear": ["linear", *random, "--workers", "0"],
            "knn": ["knn", *random, "--workers", "0"],
            "semi": ["semi", *random, "--percent", "5"],
            "finetune": ["finetune", *random],
            "attention": ["attention", "--checkpoint", p["checkpoint"], "--data", data, "--benchmark", "xsub",
                          "--out", out],
            "demo": ["demo", "--out", out],
            "evidence": ["evidence", "--data", data, "--run", p["run"], "--benchmark", "xsub", "--out", out],
            "synth": ["synth", "ntu", "--out", out],
            "prepare": ["prepare", "ntu120", "--raw", p["raw"], "--out", out],
            "show": ["show", data, "S001C001P001R001A001", "--out", out / "sheet.png"],
            "model": ["model", "--preset", "tiny"],
            "export ctrgcn": ["export", "ctrgcn", data, "--out", out],
            "gltr": ["knn", *random]}[command]


@pytest.fixture(autouse=True)
def thread_policy(monkeypatch):
    """The commands run in this process: their thread policy must not sleep to sample the CPUs, nor stay."""
    import torch
    from gltr import resources
    saved, policy = torch.get_num_threads(), dict(resources._POLICY)
    monkeypatch.setattr(resources, "busy_cpus", lambda seconds=0.2: 0.0)
    yield
    torch.set_num_threads(saved)
    resources._POLICY.clear()
    resources._POLICY.update(policy)


@pytest.fixture(scope="module")
def paths(synth_ntu_prepared, synth_ntu_raw, tiny_run):
    return {"data": synth_ntu_prepared, "raw": synth_ntu_raw, "run": tiny_run,
            "checkpoint": tiny_run / "checkpoints" / "latest.pt"}


def refused(result, option: str) -> str:
    """Exit 2 and exactly one line on stderr, `error: <option>: …`; no usage block, warning or traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, (result.exit_code, result.stderr[-2000:], result.exception)
    assert lines[0].startswith(f"error: {option}: "), lines[0]
    assert "Warning" not in result.stderr and "Usage" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("command,option,value", CASES, ids=[f"{c} {o} {v}" for c, o, v in CASES])
def test_a_bad_value_is_one_line_exit_2_and_nothing_is_written(paths, tmp_path, command, option, value):
    p = {**paths, "out": tmp_path / "out"}
    args = [option, value, *base(command, p)] if command == "gltr" else [*base(command, p), option, value]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(app, [str(a) for a in args])
    refused(result, option)
    assert not (tmp_path / "out").exists()                             # no run folder, no result JSON
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_zero_never_means_the_default_in_the_python_api():
    """`epochs=0` once trained the dataset's 120 epochs and `max_steps=0` was ignored: both are refused now, and
    None (absent) is what means "the default"."""
    must = {"data": "d", "benchmark": "b"}
    for cls, extra in ((configs.LinearConfig, {}), (configs.PretrainConfig, {}), (configs.FinetuneConfig, {"percent": 5}),
                       (configs.FinetuneConfig, {}), (configs.KnnConfig, {})):
        cls(**must, **extra)                                             # every default is in range
        for f in fields(cls):
            bound = f.metadata.get("bound")
            if bound is None or bound.low > 0 or bound.choices:
                continue
            with pytest.raises(ValueError, match=f"^--{f.metadata['flag'] or f.name.replace('_', '-')}: -"):
                cls(**must, **extra, **{f.name: -4})
    for cls, name in ((configs.LinearConfig, "epochs"), (configs.PretrainConfig, "epochs"),
                      (configs.PretrainConfig, "max_steps"), (configs.FinetuneConfig, "epochs"), (configs.KnnConfig, "k")):
        extra = {"percent": 5} if cls is configs.FinetuneConfig else {}
        with pytest.raises(ValueError, match=f"^--{name.replace('_', '-')}: 0 is not a whole number from 1 to"):
            cls(**must, **extra, **{name: 0})
    assert configs.LinearConfig(**must, epochs=None).epochs is None
    assert configs.semi_config(**must, percent=5).epochs == configs.SEMI_RECIPE["epochs"]   # the semi recipe: in range
    with pytest.raises(ValueError, match="^--epochs: 0 is not a whole number from 1 to"):
        configs.semi_config(**must, percent=5, epochs=0)
    with pytest.raises(ValueError, match="^--percent: 4 is not one of 1, 5, 10"):
        configs.semi_config(**must, percent=4)
    with pytest.raises(ValueError, match="^--validation: a semi-supervised run scores on the test split"):
        configs.FinetuneConfig(**must, percent=5, validation=True)
    with pytest.raises(ValueError, match=r"^--time-budget-min: 0\.0 is not a number > 0"):
        configs.PretrainConfig(**must, time_budget_s=0)
    with pytest.raises(ValueError, match=r"^--time-budget-min: -1\.0 is not"):        # shown in the option's unit
        configs.PretrainConfig(**must, time_budget_s=-60)


@pytest.mark.parametrize("name,value", [("epochs", 3.5), ("epochs", True), ("batch_size", "8"), ("lr", "1e-3"),
                                        ("lr", math.nan), ("lr", math.inf), ("lr", 10**400), ("seed", -1),
                                        ("seed", 2**32), ("batch_size", 10**6)])
def test_a_config_checks_types_and_ranges(name, value):
    with pytest.raises(ValueError, match=f"^--{name.replace('_', '-')}: "):
        configs.LinearConfig(data="d", benchmark="b", **{name: value})


def test_other_configs_check_their_ranges_and_items():
    with pytest.raises(ValueError, match="^--semi-seed: -4 is not"):
        configs.EvidenceConfig("d", "r", semi_seeds=(0, -4))
    with pytest.raises(ValueError, match="^--percent: 7 is not one of 1, 5, 10"):
        configs.EvidenceConfig("d", "r", percents=(5, 7))
    with pytest.raises(ValueError, match="^--batch-size: 65 is not"):
        configs.AttentionConfig((), "d", "b", batch_size=65)
    with pytest.raises(ValueError, match="^--classes: 11 is not"):
        configs.DemoConfig(classes=11)
    assert configs.FinetuneConfig("d", "b", drop_path=None, head_lr=None).drop_path is None   # None: the checkpoint's


def test_every_numeric_option_has_its_range_in_one_place():
    """Each int/float field of every config carries a bound; the command line restates none (no typer min/max),
    and the ranges that other modules also enforce agree with them."""
    import typer
    from gltr.analysis.attention import MAX_BATCH
    from gltr.pipeline.sample_lists import PERCENTS
    from gltr.analysis.show import MAX_FRAMES
    numeric = {int, float, int | None, float | None}
    for cls in (configs.AttentionConfig, configs.PretrainConfig, configs.LinearConfig, configs.KnnConfig,
                configs.FinetuneConfig, configs.DemoConfig, configs.EvidenceConfig):
        unbounded = [f.name for f in fields(cls) if f.type in numeric and "bound" not in f.metadata]
        assert unbounded == [], (cls.__name__, unbounded)

    def walk(command):
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from walk(sub)
    restated = [f"{c.name} {p.name}" for c in walk(typer.main.get_command(app)) for p in c.params
                if getattr(p, "min", None) is not None or getattr(p, "max", None) is not None
                or type(getattr(p, "type", None)).__name__ in ("IntRange", "FloatRange")]
    assert restated == []
    assert configs.PERCENTS == PERCENTS and configs.OPTIONS["show"]["frames"].high == MAX_FRAMES
    assert {f.name: f for f in fields(configs.AttentionConfig)}["batch_size"].metadata["bound"].high == MAX_BATCH


def test_the_thread_count_is_checked_in_the_python_api_too():
    from gltr import resources
    with pytest.raises(ValueError, match="^--threads: 99999999999999999999 is not a whole number from 1 to 4096"):
        resources.apply(99999999999999999999)


def test_usage_errors_are_one_line_and_help_is_unchanged(tmp_path):
    """Click's usage errors (not a number, unknown option or choice, missing option, extra argument) are one line;
    `gltr` alone and --help still print the help."""
    cases = {("knn", "--data", tmp_path, "--benchmark", "xsub", "--k", "abc"): "--k",
             ("knn", "--benchmark", "xsub"): "--data",
             ("knn", "--data", tmp_path, "--benchmark", "xsub", "--bogus", "1"): "--bogus",
             ("knn", "--data", tmp_path, "--benchmark", "xsub", "--features", "x"): "--features",
             ("knn", "--data", tmp_path, "--benchmark", "xsub", "--k"): "--k",
             ("prepare", "bogus", "--raw", tmp_path): "DATASET",
             ("export", "pyskl"): "DATA"}
    for args, option in cases.items():
        refused(CliRunner().invoke(app, [str(a) for a in args]), option)
    r = CliRunner().invoke(app, ["nosuch"])
    assert r.exit_code == 2 and r.stderr == "error: no such command 'nosuch'\n"
    for args in ([], ["export"]):                                   # as before: the help, exit 2
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2 and "Usage:" in r.stderr and "Commands" in r.stderr
    for args in (["--help"], ["knn", "--help"]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0 and "Usage:" in r.stdout and r.stderr == ""


def test_usage_and_thread_errors_are_one_line_in_a_real_process(tmp_path):
    """`--threads` is applied in the app's callback, now under the one error handler too."""
    env = {k: v for k, v in os.environ.items() if k not in ("GLTR_THREADS", "GLTR_DEBUG")}
    for args, option, extra in ((("knn", "--data", tmp_path, "--benchmark", "xsub", "--k", "abc"), "--k", {}),
                                (("--threads", "99999999999999999999", "knn", "--data", tmp_path, "--benchmark", "xsub"),
                                 "--threads", {}),
                                (("knn", "--data", tmp_path, "--benchmark", "xsub"), "--threads", {"GLTR_THREADS": "0"})):
        r = gltr(*args, env={**env, **extra})
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {option}: "), r.stderr


def test_debug_shows_the_traceback_and_keeps_the_exit_status(synth_ntu_prepared, tmp_path):
    args = ["linear", "--data", synth_ntu_prepared, "--benchmark", "xsub", "--random-init", "--out", tmp_path / "o",
            "--epochs", "0"]
    r = CliRunner().invoke(app, ["--debug", *map(str, args)])
    assert r.exit_code == 2 and "Traceback" in r.stderr and "--epochs: 0 is not" in r.stderr
    r = CliRunner().invoke(app, list(map(str, args)))
    assert r.exit_code == 2 and "Traceback" not in r.stderr


def test_numpy_warnings_are_never_printed_by_a_command():
    import numpy as np
    from gltr.cli.common import handled
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mean = handled(lambda: np.mean(np.array([])))()
        ratio = handled(lambda: np.array([1.0]) / np.array([0.0]))()
    assert math.isnan(mean) and math.isinf(ratio[0])
    assert [str(w.message) for w in caught] == []


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
