"""A dataset never runs code, no read is unbounded, no two runs mix, every user error is one line
(issue: security and reliability, round two). Each test reproduces an attack or a careless use;
synthetic data only, so these run without ../shared/data."""
import hashlib
import json
import re
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gltr.pipeline.prepare import prepare
from gltr.pipeline.synth import synth_ntu, synth_nwucla
from helpers import GLTR, copy_of, edit_index, gltr, one_error_line

# ----------------------------------------------------------------------------- 1. data never becomes code or a path

@pytest.mark.parametrize("name", ["train-000000.tar; id > {marker} #", "../../../../etc/passwd", "../../../../dev/zero",
                                  "train-[000000-000300].tar", "train-{0,1}.tar", "tráin-٠٠٠٠.tar", 7])
def test_a_shard_name_from_the_index_never_becomes_a_command_or_a_path(synth_ntu_prepared, tmp_path, name):
    data = copy_of(synth_ntu_prepared, tmp_path)
    marker = tmp_path / "pwned"
    bad = name.replace("{marker}", str(marker)) if isinstance(name, str) else name
    edit_index(data, "xsub", "train", lambda ix: ix["shards"][0].update(name=bad))
    for prefix in (str(data), f"pipe:cat {data}/{{}}"):
        r = gltr("pretrain", "--data", prefix, "--benchmark", "xsub", "--preset", "tiny", "--epochs", "1",
                 "--workers", "0", "--out", tmp_path / "run", "--overwrite")
        assert "is not a valid shard name" in one_error_line(r, 2)
        assert not marker.exists()


def test_a_pipe_command_gets_the_path_shell_quoted():
    from gltr.fetch import locate
    assert locate("pipe:cat /d/{}", "shards", "xsub", "train.json") == "pipe:cat /d/shards/xsub/train.json"
    assert locate("pipe:cat /d/{}", "a b;c") == "pipe:cat /d/'a b;c'"                  # defence in depth


def test_a_pipe_command_never_goes_through_a_shell(tmp_path):
    from gltr import fetch
    (tmp_path / "a b;c").write_bytes(b"data")
    marker = tmp_path / "pwned"
    where = fetch.locate(f"pipe:cat {tmp_path}/{{}}", "a b;c")
    assert fetch.read(where, 100) == b"data"                                  # one argument, spaces and ; included
    with pytest.raises(OSError, match="exited with status"):
        fetch.read(f"pipe:cat {tmp_path}/x; touch {marker}", 100)              # ; is an argument of cat, not a shell
    assert not marker.exists()


def test_counts_and_sizes_in_an_index_are_bounded_before_use(synth_ntu_prepared, tmp_path):
    from gltr.train.prepared import read_index
    data = copy_of(synth_ntu_prepared, tmp_path)
    good = json.loads((data / "shards/xsub/train.json").read_text())
    cases = {"num_samples": (lambda ix: ix.update(num_samples=10 ** 13), "num_samples"),
             "sum": (lambda ix: ix.update(num_samples=ix["num_samples"] + 1), "is not the sum of its shards"),
             "shard count": (lambda ix: ix["shards"][0].update(num_samples=10 ** 13), "num_samples"),
             "bytes": (lambda ix: ix["shards"][0].update(bytes=-1), "bytes"),
             "sha": (lambda ix: ix["shards"][0].update(sha256="x"), "sha256: String should match"),
             "classes": (lambda ix: ix.update(num_classes=1e9), "num_classes")}
    for what, (change, message) in cases.items():
        index = json.loads(json.dumps(good))
        change(index)
        (data / "shards/xsub/train.json").write_text(json.dumps(index))
        started = time.perf_counter()
        with pytest.raises(ValueError, match=message):
            read_index(data, "xsub", "train")
        assert time.perf_counter() - started < 5, what                       # at once, no 3.8 GB allocation


def test_a_shard_longer_than_its_index_says_is_not_read_past_it(synth_ntu_prepared, tmp_path):
    data = copy_of(synth_ntu_prepared, tmp_path)
    shard = data / "shards/xsub/train-000000.tar"
    shard.write_bytes(shard.read_bytes() + b"\0" * 10240)                     # a longer stream
    r = gltr("pretrain", "--data", data, "--benchmark", "xsub", "--preset", "tiny", "--epochs", "1", "--workers", "0",
             "--out", tmp_path / "run")
    assert "longer than the" in one_error_line(r, 2)


class Stalling(BaseHTTPRequestHandler):
    """Serves a dataset folder, but a shard request sends its headers and then nothing."""
    root: Path = None

    def do_GET(self):
        path = self.root / self.path.lstrip("/")
        data = path.read_bytes() if path.is_file() else None
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if path.suffix == ".tar":
            time.sleep(30)                                                     # stalls
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_a_stalled_server_fails_with_one_line_after_the_timeout(synth_ntu_prepared, monkeypatch):
    from gltr import fetch
    from gltr.train.data import LoaderConfig, ShardLoader
    Stalling.root = synth_ntu_prepared
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(fetch, "READ_TIMEOUT_S", 1.0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        loader = ShardLoader(url, "xsub", "train", LoaderConfig(batch_size=8, workers=0))   # the index comes fine
        started = time.perf_counter()
        with pytest.raises(OSError, match=r"train-\d+\.tar: no data for 1.0 s"):
            next(loader.epoch(0))
        assert time.perf_counter() - started < 10
        with pytest.raises(FileNotFoundError, match="HTTP 404"):
            fetch.read(f"{url}/nothing.json", 100)
    finally:
        server.shutdown()


def test_a_lock_file_is_never_truncated_followed_or_taken_from_another(tmp_path):
    from gltr.safety import hold_lock
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    raw = tmp_path / "raw"
    synth_ntu(raw, 2, seed=0, classes=2)
    os.symlink(victim, tmp_path / "d.lock")                                   # ln -s victim.txt d.lock
    with pytest.raises(FileExistsError, match="symbolic link"):
        prepare("ntu120", raw, tmp_path / "d", log=lambda line: None)
    assert victim.read_text() == "precious" and not (tmp_path / "d").exists()
    (tmp_path / "e.lock").mkdir()
    with pytest.raises(FileExistsError, match="symbolic link or a folder"):
        prepare("ntu120", raw, tmp_path / "e", log=lambda line: None)
    (tmp_path / "f.lock").write_text("my notes")                              # a file gltr did not write
    with pytest.raises(FileExistsError, match="not a gltr lock file"):
        hold_lock(tmp_path / "f.lock", "prepare")
    assert (tmp_path / "f.lock").read_text() == "my notes"
    os.link(victim, tmp_path / "g.lock")                                      # a hard link to someone's file
    with pytest.raises(FileExistsError, match="not a gltr lock file"):
        hold_lock(tmp_path / "g.lock", "prepare")
    assert victim.read_text() == "precious"
    with hold_lock(tmp_path / "h.lock", "prepare"):                           # the holder is named
        with pytest.raises(FileExistsError, match=rf"another gltr prepare \(pid {os.getpid()}\)"):
            hold_lock(tmp_path / "h.lock", "prepare")
    hold_lock(tmp_path / "h.lock", "prepare").release()                        # free again


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


def test_a_symlinked_prepare_out_is_refused(tmp_path):
    raw = tmp_path / "raw"
    synth_ntu(raw, 2, seed=0, classes=2)
    first = tmp_path / "real"
    prepare("ntu120", raw, first, log=lambda line: None)
    os.symlink(first, tmp_path / "link")
    r = gltr("prepare", "ntu120", "--raw", raw, "--out", tmp_path / "link", "--overwrite")
    assert "symbolic link" in one_error_line(r, 2)
    assert (tmp_path / "link").is_symlink() and (first / "prepare.json").exists()


# ----------------------------------------------------------------------------- 2. no two runs mix, none trains on nothing

def test_two_runs_never_write_into_one_folder(synth_ntu_prepared, tmp_path):
    from gltr.safety import hold_lock
    run = tmp_path / "run"
    with hold_lock(run / ".lock", "pretrain"):                                 # a pretraining run is writing there
        r = gltr("pretrain", "--data", synth_ntu_prepared, "--benchmark", "xsub", "--preset", "tiny", "--epochs", "1",
                 "--workers", "0", "--out", run, "--overwrite")
        assert "another gltr pretrain" in one_error_line(r, 2)
    with hold_lock(tmp_path / "probe/eval/.lock", "evaluation"):               # an evaluation is writing there
        r = gltr("linear", "--random-init", "--preset", "tiny", "--data", synth_ntu_prepared, "--benchmark", "xsub",
                 "--epochs", "1", "--out", tmp_path / "probe")
        assert "another gltr evaluation" in one_error_line(r, 2)
    with hold_lock(tmp_path / "exp/.gltr-export.lock", "export"):
        r = gltr("export", "ctrgcn", synth_ntu_prepared, "--out", tmp_path / "exp")
        assert "another gltr export" in one_error_line(r, 2)


def test_resume_on_another_dataset_or_benchmark_is_refused(synth_ntu_prepared, tmp_path):
    from gltr.train.pretrain import PretrainConfig, train
    common = dict(benchmark="xsub", preset="tiny", epochs=2, batch_size=8, lr=1e-3, workers=0, out=str(tmp_path / "run"))
    train(PretrainConfig(data=str(synth_ntu_prepared), max_steps=2, **common))
    other = tmp_path / "other"
    synth_ntu(tmp_path / "raw2", 60, seed=9, classes=6)
    prepare("ntu120", tmp_path / "raw2", other, shard_size=16, log=lambda line: None)
    with pytest.raises(ValueError, match=r"was trained on dataset identity"):
        train(PretrainConfig(data=str(other), resume=True, **common))
    with pytest.raises(ValueError, match="was trained on benchmark xsub"):
        train(PretrainConfig(data=str(synth_ntu_prepared), resume=True, **{**common, "benchmark": "xset"}))


def test_an_empty_split_is_warned_about_and_refused_by_every_trainer(tmp_path):
    raw = tmp_path / "raw"
    synth_nwucla(raw, 30, seed=0, classes=3)
    for p in raw.iterdir():                                                    # keep only view 3: no training clip
        if not p.stem.endswith("_v03"):
            p.unlink()
    r = gltr("prepare", "nwucla", "--raw", raw, "--out", tmp_path / "data")
    assert r.returncode == 0 and "split view/train holds no sample" in r.stderr
    for command in (["pretrain", "--preset", "tiny", "--epochs", "1", "--workers", "0", "--out", tmp_path / "run"],
                    ["linear", "--random-init", "--epochs", "1", "--out", tmp_path / "p"],
                    ["knn", "--features", "handcrafted", "--out", tmp_path / "k"]):
        r = gltr(*command, "--data", tmp_path / "data", "--benchmark", "view")
        assert "holds no sample" in one_error_line(r, 2), command
    assert not (tmp_path / "run/checkpoints").exists()


def test_a_tampered_or_truncated_feature_cache_is_rebuilt(synth_ntu_prepared, tiny_run, tmp_path):
    import torch
    from gltr.train.evaluate import KnnConfig, knn_eval
    cfg = KnnConfig(data=str(synth_ntu_prepared), benchmark="xsub", checkpoint=str(tiny_run / "checkpoints/latest.pt"),
                    k=5, workers=0, out=str(tmp_path / "probe"))
    honest = knn_eval(cfg)["top1"]
    caches = sorted((tmp_path / "probe/eval").glob("features-*-train.pt"))
    assert len(caches) == 1
    cache = torch.load(caches[0], weights_only=True)
    cache["labels"] = cache["labels"][torch.randperm(len(cache["labels"]), generator=torch.Generator().manual_seed(0))]
    torch.save(cache, caches[0])                                               # shuffled labels
    assert knn_eval(cfg)["top1"] == honest
    caches[0].write_bytes(caches[0].read_bytes()[:1000])                       # truncated
    assert knn_eval(cfg)["top1"] == honest
    identity = torch.load(caches[0], weights_only=True)["identity"]
    report = json.loads((synth_ntu_prepared / "prepare.json").read_text())
    decides = {k: v for k, v in report["files"].items() if k == "manifest.parquet" or re.fullmatch(r"shards/.*\.json", k)}
    assert identity["dataset_identity"] == hashlib.sha256(json.dumps(
        {"variant": report["variant"], "files": decides}, sort_keys=True).encode()).hexdigest()


# ----------------------------------------------------------------------------- 3. no silent non-finite numbers

def test_a_coordinate_near_the_float32_limit_fails_its_file(tmp_path):
    paths = synth_ntu(tmp_path / "raw", 3, seed=1, classes=3)
    lines = paths[0].read_bytes().split(b"\n")
    for line, value in ((4, b"3e38"), (24, b"-3e38")):                        # joint 1 and the centre joint 21
        fields = lines[line].split(b" ")
        fields[0] = value                                                      # finite in float32; differences are not
        lines[line] = b" ".join(fields)
    paths[0].write_bytes(b"\n".join(lines))
    report = prepare("ntu120", tmp_path / "raw", tmp_path / "out", log=lambda line: None)
    assert [f["file"] for f in report["failed"]] == [paths[0].name]
    assert "beyond ±100 m" in report["failed"][0]["reason"]               # before any difference overflows


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


# ----------------------------------------------------------------------------- 4. one line for every user error

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


# ----------------------------------------------------------------------------- 5. technically valid, but wrong

def test_names_are_ascii_and_numbers_follow_strict_rules(tmp_path):
    from gltr.pipeline.names import parse_ntu_name, parse_ucla_name
    from gltr.pipeline.ntu_reader import SkeletonError, parse_skeleton
    assert parse_ntu_name("S001C001P002R001A\u0660\u0660\u0669") is None            # Arabic-Indic digits
    assert parse_ucla_name("a\u0661\u0662_s01_e00_v01") is None
    assert parse_ntu_name("S001C001P002R001A009\n") is None                      # no trailing newline either
    path = synth_ntu(tmp_path / "raw", 1, seed=0, classes=1)[0]
    text = path.read_bytes()
    for bad in (b"1_0" + text[text.index(b"\n"):], b"+" + text):                # int() would take both
        with pytest.raises(SkeletonError, match="expected frame count"):
            parse_skeleton(bad)


def test_a_non_utf8_path_fails_its_file_and_the_run_goes_on(tmp_path):
    raw = tmp_path / "raw"
    paths = synth_ntu(raw, 3, seed=0, classes=3)
    bad = os.fsencode(raw) + b"/caf\xe9"
    os.mkdir(bad)
    os.rename(paths[0], bad + b"/" + os.fsencode(paths[0].name))
    report = prepare("ntu120", raw, tmp_path / "out", log=lambda line: None)
    assert report["counts"]["prepared"] == 2
    assert [f["reason"] for f in report["failed"]] == ["its path is not valid UTF-8: rename it to prepare it"]
    assert (tmp_path / "out/prepare.json").exists() and not (tmp_path / "out.partial").exists()


def test_a_raw_file_swapped_for_a_fifo_fails_instead_of_hanging(tmp_path):
    from gltr.pipeline.sample import SampleError, read_raw
    os.mkfifo(tmp_path / "S001C001P001R001A001.skeleton")
    started = time.perf_counter()
    with pytest.raises(SampleError, match="not a regular file"):
        read_raw(tmp_path / "S001C001P001R001A001.skeleton")
    assert time.perf_counter() - started < 2


def test_prepare_workers_die_with_their_parent(tmp_path):
    raw = tmp_path / "raw"
    synth_ntu(raw, 400, seed=0, classes=6)
    proc = subprocess.Popen(GLTR + ["prepare", "ntu120", "--raw", str(raw), "--out", str(tmp_path / "out"),
                                    "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    children = []
    while time.time() < deadline and len(children) < 2:
        children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == proc.pid]
        time.sleep(0.1)
    assert len(children) >= 2, "the workers did not start"
    proc.kill()
    proc.wait()
    time.sleep(1.0)
    assert [c for c in children if _alive(c)] == []                             # no orphan keeps working
    text = (tmp_path / "out.lock").read_text()
    assert text.startswith(f"gltr lock pid {proc.pid} prepare")                # the lock names its holder


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def test_a_tampered_variant_in_an_index_is_refused(synth_ntu_prepared, tmp_path):
    """Found by the fuzz suite: a variant that is missing, not an object, or not its dataset's own."""
    from gltr.train.prepared import read_index
    data = copy_of(synth_ntu_prepared, tmp_path)
    good = json.loads((data / "shards/xsub/train.json").read_text())
    for change, message in ((lambda ix: ix.pop("variant"), "variant: Field required"),
                            (lambda ix: ix.update(variant="x"), "not a JSON object"),
                            (lambda ix: ix["variant"].update(t_max=10 ** 9), "t_max"),
                            (lambda ix: ix["variant"].update(persons="2"), "persons"),
                            (lambda ix: ix["variant"].update(rotation="[/x]"), "rotation"),
                            (lambda ix: ix.update(dataset="ntu60"), "not its variant's")):
        index = json.loads(json.dumps(good))
        change(index)
        (data / "shards/xsub/train.json").write_text(json.dumps(index))
        with pytest.raises(ValueError, match=message):
            read_index(data, "xsub", "train")
