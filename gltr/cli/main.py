"""The `gltr` command line: the app (gltr/cli/common.py) and its commands, one module per stage.

    gltr synth ntu --out /tmp/raw --samples 200
    gltr prepare ntu120 --raw /tmp/raw --out data/demo --workers 2
    gltr inspect data/demo
    gltr verify data/demo
"""
import sys
from pathlib import Path

import typer

from gltr.cli import data, train, evaluate, export  # noqa: F401  (in stage order: each registers its commands)
from gltr.cli.common import app, command, default_text, given, print_out, print_err
from gltr.configs import DemoConfig


@command(compute=True)
def demo(out: Path = typer.Option(None, help="folder for everything the demo writes (only a folder it made is "
                                  "replaced) " + default_text(DemoConfig, "out")),
         samples: int = typer.Option(None, help="synthetic clips " + default_text(DemoConfig, "samples")),
         classes: int = typer.Option(None, help="synthetic classes " + default_text(DemoConfig, "classes")),
         epochs: int = typer.Option(None, help="pretraining epochs " + default_text(DemoConfig, "epochs")),
         probe_epochs: int = typer.Option(None, help="linear-probe epochs " + default_text(DemoConfig, "probe_epochs")),
         workers: int = typer.Option(None, help="prepare processes " + default_text(DemoConfig, "workers"))):
    """Synthesise -> prepare -> pretrain tiny() -> linear probe (vs random init and hand-crafted) -> results table."""
    from gltr.demo import demo as run_demo
    cfg = DemoConfig(**given(out=out and str(out), samples=samples, classes=classes, epochs=epochs,
                             probe_epochs=probe_epochs, workers=workers))
    out, classes = Path(cfg.out), cfg.classes
    result = run_demo(cfg, log=lambda line: print_err(line))
    print_out(result["table"], end="")
    p, r, h = result["pretrained_top1"], result["random_top1"], result["handcrafted_top1"]
    print_out(f"pretrained encoder: top-1 {p:.1f}%   random encoder: {r:.1f}%   hand-crafted features: {h:.1f}%   "
              f"(chance {100 / classes:.1f}%)")
    verdict = (f"MPDP pretraining beats the random encoder by {p - r:.1f} points" if p >= r + 5 else
               f"at this miniature size MPDP pretraining does not beat the random encoder ({p:.1f} vs {r:.1f})")
    print_out(f"The synthetic classes differ only in how the limbs move, never in a pose; {verdict}. "
              "For the real-data comparison see docs/results.md, 'Real-data evidence' (make evidence).")
    print_out(f"table: {out / 'results.md'}; figures: " + ", ".join(map(str, result["figures"])))


def main():
    """`gltr` (its commands handle their own errors: `command`)."""
    app()


if __name__ == "__main__":
    sys.exit(main())
