"""`make bench` / `python -m gltr.bench --out bench [--real ../shared/data] [--only prepare]`: run the benchmarks,
write JSON. `--real`: the real-data folder (gltr.bench.real_default); without it, benchmarks fall back to synthetic
inputs where they can and say "skipped" where they cannot."""
import argparse
import json
from pathlib import Path

from gltr.bench import real_default
from gltr.safety import atomic_file
from gltr.bench import compile_bench, eval_bench, export_bench, precision_bench, precision_ops, prepare_bench, soak_bench, threads_bench, train_bench

BENCHES = {"prepare": prepare_bench.run, "train": train_bench.run, "eval": eval_bench.run, "export": export_bench.run,
           "threads": threads_bench.run, "demo-load": threads_bench.run_demo, "precision": precision_bench.run,
           "precision-ops": precision_ops.run, "soak": soak_bench.run,
           "compile": compile_bench.run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench"))
    parser.add_argument("--only", choices=sorted(BENCHES), action="append")
    parser.add_argument("--real", type=Path, default=real_default(),
                        help="the real-data folder (shared/data) [default: $GLTR_REAL_DATA, else ../shared/data]")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or BENCHES:
        result = BENCHES[name](args.out, args.real)
        path = args.out / f"{name}.json"
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps(result, indent=1) + "\n")
        print(f"== {name} -> {path}")
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
