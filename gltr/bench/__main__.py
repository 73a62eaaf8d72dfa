"""`make bench` / `python -m gltr.bench --out bench --real ../shared/data [--only prepare]`: run the benchmarks,
write JSON. `--real`: the real-data folder (default: $GLTR_REAL_DATA); benchmarks that need it say so."""
import argparse
import json
import os
from pathlib import Path

from gltr.bench import compile_bench, eval_bench, export_bench, precision_bench, precision_ops, prepare_bench, soak_bench, threads_bench, train_bench

BENCHES = {"prepare": prepare_bench.run, "train": train_bench.run, "eval": eval_bench.run, "export": export_bench.run,
           "threads": threads_bench.run, "demo-load": threads_bench.run_demo, "precision": precision_bench.run,
           "precision-ops": precision_ops.run, "soak": soak_bench.run,
           "compile": compile_bench.run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench"))
    parser.add_argument("--only", choices=sorted(BENCHES), action="append")
    parser.add_argument("--real", type=Path, default=os.environ.get("GLTR_REAL_DATA"),
                        help="the real-data folder (shared/data) [default: $GLTR_REAL_DATA]")
    args = parser.parse_args()
    if args.real is None or not Path(args.real).is_dir():
        parser.error(f"--real: {args.real} is not a folder (the real data the benchmarks read: give --real DIR "
                     f"or set GLTR_REAL_DATA)")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or BENCHES:
        result = BENCHES[name](args.out, Path(args.real))
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"== {name} -> {path}")
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
