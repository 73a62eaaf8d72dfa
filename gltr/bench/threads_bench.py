"""Training beside CPU-burning neighbours: the slow-down of the demo's pretraining phase under load.

The demo's data (540 synthetic NW-UCLA clips) and pretraining settings (tiny(), batch 16, lr 1e-3, loading
in the main process as the demo does), a fixed number of steps, timed idle, beside two `while True: pass`
processes started before it, and beside two started 5 s after it; each in a fresh process, with two CPU
policies in the same run:

- torch's default: a library call that sets nothing (one intra-op thread per core), which is what every
  command did before gltr.resources;
- gltr's: the CLI's policy (gltr.resources: threads = CPUs others leave idle, re-chosen while training).

`--only demo-load` times the whole default `gltr demo` idle and beside the two neighbours.
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gltr.configs import DemoConfig

STEPS = 200
LATE_S = 5.0
NEIGHBOURS = 2
LIBRARY_CALL = r"""
import sys
from gltr.configs import PretrainConfig
from gltr.train.pretrain import train
train(PretrainConfig(data=sys.argv[1], benchmark="view", out=sys.argv[2], preset="tiny", batch_size=16, lr=1e-3,
                     epochs=1000, max_steps=int(sys.argv[3]), workers=0))
"""


def neighbours(n: int) -> list:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def timed(argv: list, env: dict, busy: int, late_s: float = 0.0) -> float:
    """Wall seconds of one command, run beside `busy` CPU-burning processes (started `late_s` after it)."""
    burners = [] if late_s else neighbours(busy)
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if late_s:
            time.sleep(late_s)
            burners = neighbours(busy)
        _, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"{argv[:3]} failed: {err.decode()[-500:]}")
        return time.perf_counter() - start
    finally:
        for p in burners:
            p.kill()
            p.wait()


def clean_env() -> dict:
    """This environment without the variables that would fix a policy for the child."""
    return {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GLTR_THREADS")}


def run(out: Path, real: Path) -> dict:
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.synth import synth_nwucla
    work = out / "threads_work"
    shutil.rmtree(work, ignore_errors=True)
    demo = DemoConfig()
    synth_nwucla(work / "raw", demo.samples, seed=0, classes=demo.classes, lengths=demo.lengths)
    prepare("nwucla", work / "raw", work / "data", shard_size=32, log=lambda line: None)
    gltr = str(Path(sys.executable).with_name("gltr"))
    commands = {
        "torch_default": lambda o: [sys.executable, "-c", LIBRARY_CALL, str(work / "data"), o, str(STEPS)],
        "gltr_policy": lambda o: [gltr, "pretrain", "--data", str(work / "data"), "--benchmark", "view", "--preset",
                                  "tiny", "--batch-size", "16", "--lr", "1e-3", "--epochs", "1000", "--max-steps",
                                  str(STEPS), "--workers", "0", "--out", o],
    }
    result = {"steps": STEPS, "neighbours": NEIGHBOURS, "cpus": os.cpu_count()}
    for name, command in commands.items():
        idle = timed(command(str(work / f"run-{name}-idle")), clean_env(), 0)
        busy = timed(command(str(work / f"run-{name}-busy")), clean_env(), NEIGHBOURS)
        late = timed(command(str(work / f"run-{name}-late")), clean_env(), NEIGHBOURS, LATE_S)
        result[name] = {"idle_s": round(idle, 1), "beside_neighbours_s": round(busy, 1),
                        "neighbours_arriving_late_s": round(late, 1), "slowdown": round(busy / idle, 2),
                        "slowdown_late": round(late / idle, 2)}
    result["gltr_policy_vs_torch_default_under_load"] = round(
        result["torch_default"]["beside_neighbours_s"] / result["gltr_policy"]["beside_neighbours_s"], 2)
    result["target"] = {"gltr_policy slowdown": "<= 2.5"}
    shutil.rmtree(work, ignore_errors=True)
    return result


def run_demo(out: Path, real: Path) -> dict:
    """The whole default demo, idle and beside two CPU-burning neighbours (~10 minutes on 2 cores)."""
    gltr = str(Path(sys.executable).with_name("gltr"))
    work = out / "demo_load_work"
    shutil.rmtree(work, ignore_errors=True)
    seconds = {busy: timed([gltr, "demo", "--out", str(work / f"demo{busy}")], clean_env(), busy)
               for busy in (0, NEIGHBOURS)}
    shutil.rmtree(work, ignore_errors=True)
    return {"neighbours": NEIGHBOURS, "cpus": os.cpu_count(), "idle_s": round(seconds[0], 1),
            "beside_neighbours_s": round(seconds[NEIGHBOURS], 1),
            "slowdown": round(seconds[NEIGHBOURS] / seconds[0], 2), "target": {"slowdown": "<= 3"}}
