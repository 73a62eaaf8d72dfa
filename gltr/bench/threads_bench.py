"""Training beside CPU-burning neighbours: the slow-down of the demo's pretraining phase under load.

The demo's data (540 synthetic NW-UCLA clips) and pretraining settings (tiny(), batch 16, lr 1e-3),
a fixed number of steps with 2 loader workers, timed idle and again beside two `while True: pass`
processes, each in a fresh process, with two CPU policies in the same run:

- torch's default: a library call that sets nothing (one intra-op thread per core, OpenMP's
  default waiting), which is what every command did before gltr.resources;
- gltr's: the CLI's start-up policy (gltr.resources: threads = idle CPUs, passive waiting).

`--only demo-load` times the whole default `gltr demo` idle and beside the two neighbours.
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gltr.configs import DemoConfig

STEPS = 60
NEIGHBOURS = 2
LIBRARY_CALL = r"""
import sys
from gltr.configs import PretrainConfig
from gltr.train.pretrain import train
train(PretrainConfig(data=sys.argv[1], benchmark="view", out=sys.argv[2], preset="tiny", batch_size=16, lr=1e-3,
                     epochs=1000, max_steps=int(sys.argv[3]), workers=2))
"""


def neighbours(n: int) -> list:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def timed(argv: list, env: dict, busy: int) -> float:
    """Wall seconds of one command, run beside `busy` CPU-burning processes."""
    burners = neighbours(busy)
    try:
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
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
                                  str(STEPS), "--workers", "2", "--out", o],
    }
    result = {"steps": STEPS, "neighbours": NEIGHBOURS, "cpus": os.cpu_count()}
    for name, command in commands.items():
        seconds = {}
        for busy in (0, NEIGHBOURS):
            folder = work / f"run-{name}-{busy}"
            seconds[busy] = timed(command(str(folder)), clean_env(), busy)
        result[name] = {"idle_s": round(seconds[0], 1), "beside_neighbours_s": round(seconds[NEIGHBOURS], 1),
                        "slowdown": round(seconds[NEIGHBOURS] / seconds[0], 2)}
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
