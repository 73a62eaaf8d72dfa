"""The command line and what it writes: every user error is one line without a traceback, no name reaches the
terminal as markup, a failed write leaves nothing, exports stay out of datasets, the wheel carries its lists."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from gltr.pipeline.prepare import prepare
from gltr.pipeline.synth import synth_ntu
from helpers import copy_of, edit_index, gltr, one_error_line


def test_every_user_error_is_one_line_without_a_traceback(synth_ntu_prepared, tiny_run, tmp_path):
    import tarfile
    data = copy_of(synth_ntu_prepared, tmp_path)
    crafted = tmp_path / "crafted"                                             # a tar that fails, with a matching sha
    shutil.copytree(synth_ntu_prepared, crafted)
    shard = crafted / "shards/xsub/train-000000.tar"
    blob = b"\x00" * 100 + b"not a tar header" * 100
    shard.write_bytes(blob + b"\0" * (1024 - len(blob) % 1024))
    edit_index(crafted, "xsub", "train", lambda ix: ix["shards"][0].update(
        sha256=hashlib.sha256(shard.read_bytes()).hexdigest(), bytes=shard.stat().st_size))
    pickled = tmp_path / "evil.pt"
    import torch

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))
    torch.save({"model": Payload()}, pickled)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "run/eval").mkdir(parents=True)
    (tmp_path / "run/eval/linear-x.json").write_text("{not json")
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o500)
    (tmp_path / "pj").mkdir()
    (tmp_path / "pj/prepare.json").mkdir()
    (tmp_path / "afile").write_text("x")
    train = ["--preset", "tiny", "--epochs", "1", "--workers", "0", "--batch-size", "8"]
    cases = {
        "crafted tar": (["pretrain", "--data", crafted, "--benchmark", "xsub", *train, "--out", tmp_path / "r1"], "tar"),
        "http refused": (["pretrain", "--data", "http://127.0.0.1:9", "--benchmark", "xsub", *train,
                          "--out", tmp_path / "r2"], "127.0.0.1:9"),
        "pipe fails": (["pretrain", "--data", "pipe:false {}", "--benchmark", "xsub", *train, "--out", tmp_path / "r3"],
                       "exited with status 1"),
        "weights_only refusal": (["linear", "--checkpoint", pickled, "--data", data, "--benchmark", "xsub",
                                  "--out", tmp_path / "lin"], "is not a gltr checkpoint"),
        "bad eval JSON in report": (["report", tmp_path / "run"], "linear-x.json"),
        "verify a file": (["verify", tmp_path / "afile"], "afile"),
        "export into a file": (["export", "ctrgcn", data, "--out", tmp_path / "afile"], "afile"),
        "export into a read-only folder": (["export", "pyskl", data, "--out", tmp_path / "ro/x.pkl"], "ro"),
        "benchmark missing": (["knn", "--features", "handcrafted", "--data", data, "--benchmark", "xview",
                               "--out", tmp_path / "k"], "it has xset, xsub"),
        "attention frames": (["attention", "--checkpoint", tiny_run / "checkpoints/latest.pt", "--data", data,
                              "--benchmark", "xsub", "--frames", "100000", "--out", tmp_path / "att"], "T_max"),
        "show size": (["show", data, "S001C001P001R001A001", "--out", tmp_path / "x.png", "--size", "60000x60000"],
                      "between"),
    }
    if os.geteuid() == 0:                                                      # root writes into read-only folders
        del cases["export into a read-only folder"]
    for what, (args, needle) in cases.items():
        r = gltr(*args, timeout=120)
        line = one_error_line(r)
        assert r.returncode in (1, 2), (what, r.returncode, r.stderr[-500:])
        assert needle in line, (what, line)
        assert "weights_only" not in line and "pwned" not in r.stdout, what
    os.chmod(tmp_path / "ro", 0o700)
    assert tarfile                                                             # (imported for the crafted case)
    r = gltr("verify", tmp_path / "pj")                                         # verify's own report: one line a problem
    assert r.returncode == 1 and "Traceback" not in r.stderr and "prepare.json: not a file" in r.stderr
    r = gltr("--debug", "verify", tmp_path / "afile")                           # --debug shows the traceback
    assert "Traceback" in r.stderr
    r = gltr("verify", tmp_path / "afile", env={**os.environ, "GLTR_DEBUG": "1"})
    assert "Traceback" in r.stderr


WEIRD = "x[/x]\x1b[2J"


def test_markup_and_control_characters_in_names_reach_no_terminal(synth_ntu_prepared, tmp_path):
    """A name with rich markup and an ESC sequence, through every command that prints a user string."""
    import pyarrow.parquet as pq
    weird = tmp_path / WEIRD
    sample = pq.read_table(synth_ntu_prepared / "manifest.parquet", columns=["sample_id"]).column(0)[0].as_py()
    cases = [["verify", weird], ["inspect", weird], ["show", synth_ntu_prepared, WEIRD, "--out", tmp_path / "a.png"],
             ["show", synth_ntu_prepared, sample, "--out", tmp_path / f"{WEIRD}.png"],
             ["pretrain", "--data", weird, "--benchmark", "xsub", "--out", tmp_path / "run"],
             ["pretrain", "--data", synth_ntu_prepared, "--benchmark", "xsub", "--preset", "tiny", "--epochs", "1",
              "--workers", "0", "--max-steps", "1", "--out", tmp_path / "runs" / WEIRD],
             ["linear", "--random-init", "--data", weird, "--benchmark", "xsub", "--out", tmp_path / "p"],
             ["knn", "--features", "handcrafted", "--data", synth_ntu_prepared, "--benchmark", WEIRD, "--out", tmp_path],
             ["report", weird], ["export", "pyskl", weird, "--out", tmp_path / "a.pkl"],
             ["export", "ctrgcn", weird, "--out", tmp_path / "c"],
             ["prepare", "ntu120", "--raw", weird, "--out", tmp_path / "o"],
             ["evidence", "--data", weird, "--run", weird]]
    for args in cases:
        r = gltr(*args, timeout=120)
        both = r.stdout + r.stderr
        assert "\x1b[2J" not in both and "Traceback" not in both, (args, both[-1500:])
        assert "MarkupError" not in both and "closing tag" not in both, args
        if r.returncode:
            assert "x[/x]\\x1b[2J" in one_error_line(r), (args, r.stderr)     # printed as it is, ESC made visible


def test_file_names_are_printed_as_they_are_never_as_markup(tmp_path):
    import os
    import subprocess
    import sys
    paths = synth_ntu(tmp_path / "raw", 1, seed=3, classes=1)
    (tmp_path / "raw/[").mkdir()
    for name in ("[/yellow].skeleton", "[bold]x.skeleton"):                 # the first is a folder "[" and a file
        (tmp_path / "raw" / name).write_bytes(paths[0].read_bytes())
    result = subprocess.run([sys.executable, "-m", "gltr.cli.main", "prepare", "ntu120", "--raw", str(tmp_path / "raw"),
                             "--out", str(tmp_path / "[red]out")], capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "250"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "[/yellow].skeleton: bad file name" in result.stderr and "[bold]x.skeleton: bad file name" in result.stderr
    assert "[red]out" in result.stdout + result.stderr


def test_a_failed_write_leaves_no_temporary_file(synth_ntu_prepared, tmp_path):
    import resource
    from gltr.export.ctrgcn import export_ctrgcn
    data = synth_ntu_prepared
    script = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
              "from gltr.export.pyskl import export_pyskl\nfrom gltr.export.ctrgcn import export_ctrgcn\n"
              "try:\n    export_pyskl(sys.argv[1], sys.argv[2] + '/b.pkl')\nexcept OSError: pass\n"
              "try:\n    export_ctrgcn(sys.argv[1], sys.argv[2], log=lambda l: None)\nexcept OSError: pass\n")
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ}
    r = subprocess.run([sys.executable, "-c", script, str(data), str(out)], capture_output=True, text=True, env=env,
                       preexec_fn=lambda: __import__("signal").signal(__import__("signal").SIGXFSZ,
                                                                     __import__("signal").SIG_IGN))
    assert r.returncode == 0, r.stderr[-2000:]
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name], list(out.iterdir())
    assert not (out / "NTU120_CSub.npz").exists() and not (out / "b.pkl").exists()
    assert resource and export_ctrgcn


def test_an_export_never_writes_into_a_dataset_and_replaces_only_its_own_files(synth_ntu_prepared, tmp_path):
    from gltr.export.pyskl import export_pyskl
    data = copy_of(synth_ntu_prepared, tmp_path)
    before = (data / "manifest.parquet").read_bytes()
    r = gltr("export", "pyskl", data, "--out", data / "manifest.parquet", "--overwrite")
    assert "inside" in one_error_line(r, 2)
    assert (data / "manifest.parquet").read_bytes() == before
    r = gltr("export", "ctrgcn", data, "--out", data / "x", "--overwrite")
    assert "inside" in one_error_line(r, 2) and not (data / "x").exists()
    mine = tmp_path / "out" / "anno.pkl"
    mine.parent.mkdir()
    mine.write_text("a file of the user's")
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        export_pyskl(data, mine)
    with pytest.raises(FileExistsError, match="not written by gltr export"):
        export_pyskl(data, mine, overwrite=True)
    assert mine.read_text() == "a file of the user's"
    mine.unlink()
    export_pyskl(data, mine)
    export_pyskl(data, mine, overwrite=True)                                  # its own file: replaced
    assert json.loads((mine.parent / "gltr-export.json").read_text())["files"]["anno.pkl"] == \
        hashlib.sha256(mine.read_bytes()).hexdigest()


def test_a_value_beyond_float16_is_refused_by_the_pyskl_export(tmp_path, monkeypatch):
    from gltr.export.pyskl import export_pyskl
    from gltr.pipeline import sample
    monkeypatch.setattr(sample, "COORD_MAX_M", 1e5)    # prepare refuses it at its ±100 m; the export keeps its own guard
    paths = synth_ntu(tmp_path / "raw", 2, seed=1, classes=2)
    lines = paths[0].read_bytes().split(b"\n")
    fields = lines[4].split(b" ")
    fields[0] = b"70000"
    lines[4] = b" ".join(fields)
    paths[0].write_bytes(b"\n".join(lines))
    prepare("ntu120", tmp_path / "raw", tmp_path / "data", log=lambda line: None)
    with pytest.raises(ValueError, match=rf"sample {paths[0].stem}: a coordinate of 70000 does not fit"):
        export_pyskl(tmp_path / "data", tmp_path / "out/anno.pkl")
    assert not (tmp_path / "out/anno.pkl").exists() and not list((tmp_path / "out").glob(".anno.pkl.tmp*"))


def test_an_installed_wheel_carries_the_manifests(tmp_path):
    """`pip install .` (not editable) must find split rules and sample lists: they ship as package data."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel"), str(root)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "wheel").glob("gltr-*.whl"))
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    probe = ("import gltr, gltr.pipeline.names as n, gltr.pipeline.sample_lists as s;"
             "print(gltr.__file__);"
             "print(n.split_rules()['nwucla']['view']['train'], len(n.missing_list('ntu120')),"
             " len(s.read_list('ntu60', 'xsub', 5, 0)[0]), len(s.read_validation('nwucla', 'view')[0]))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    where, numbers = result.stdout.splitlines()
    assert where.startswith(str(tmp_path / "site"))                       # the installed copy, not the checkout
    assert numbers == "[1, 2] 535 1980 191"


def test_atomic_file_writes_whole_or_leaves_everything_as_it_was(tmp_path):
    from gltr.safety import atomic_file
    target = tmp_path / "result.json"
    target.write_text("old")
    cases = [(target, None, "new"),                                   # success: replaced
             (target, RuntimeError("disk full"), "new"),             # a failure in the body: the target as it was
             (tmp_path / "no/such/folder/x.json", None, None)]       # a missing folder: refused, nothing made
    for path, error, expected in cases:
        try:
            with atomic_file(path, suffix=".json") as tmp:
                assert tmp.parent == path.parent and tmp.name.endswith(".json") and tmp.name.startswith(".")
                tmp.write_text("new")
                if error:
                    raise error
        except FileNotFoundError as e:
            assert expected is None and str(path) in str(e) and not (tmp_path / "no").exists()
        except RuntimeError:
            pass
        if expected is not None:
            assert path.read_text() == expected
        assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]      # no temporary file left
    with pytest.raises(PermissionError) as caught:                   # an error about the temporary names the target
        with atomic_file(target) as tmp:
            raise PermissionError(13, "Permission denied", str(tmp))
    assert caught.value.filename == str(target) and str(target) in str(caught.value)
