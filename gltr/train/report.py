"""`gltr report RUNS...`: every evaluation JSON under the runs, as one markdown table beside the paper."""
import json
from pathlib import Path

# REFERENCE section 8 (linear evaluation and semi-supervised fine-tuning, top-1 %)
PAPER = {
    ("linear", "ntu60", "xsub"): 76.3, ("linear", "ntu60", "xview"): 83.8, ("linear", "ntu120", "xsub"): 66.0,
    ("linear", "ntu120", "xset"): 68.7, ("linear", "nwucla", "view"): 90.4,
    ("semi5", "ntu60", "xsub"): 64.5, ("semi10", "ntu60", "xsub"): 68.6, ("semi5", "ntu60", "xview"): 68.5,
    ("semi10", "ntu60", "xview"): 74.9, ("semi5", "nwucla", "view"): 58.5, ("semi10", "nwucla", "view"): 74.3,
}


def collect(runs: list[Path]) -> list[dict]:
    rows = []
    for run in runs:
        for path in sorted(Path(run).glob("eval/*.json")):
            r = json.loads(path.read_text())
            if r.get("evaluation") == "semi" and "seeds" not in r:
                continue                                   # per-seed files: the summary row covers them
            kind = r["evaluation"] + (str(r["percent"]) if r["evaluation"] == "semi" else "")
            rows.append({"run": str(run), "file": path.name, "kind": kind, **r})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| run | evaluation | dataset | benchmark | protocol | top-1 | top-5 | paper top-1 | checkpoint |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        top1 = f"{r['top1']:.1f}" + (f" ± {r['top1_std']:.1f}" if "top1_std" in r else "")
        top5 = f"{r['top5']:.1f}" + (f" ± {r['top5_std']:.1f}" if "top5_std" in r else "")
        paper = PAPER.get((r["kind"], r["dataset"], r["benchmark"]))
        ckpt = "random init" if r.get("random_init") else str(r.get("checkpoint_sha256", ""))[:12]
        lines.append(f"| {r['run']} | {r['kind']} | {r['dataset']} | {r['benchmark']} | {r['protocol']} | {top1} | "
                     f"{top5} | {paper if paper is not None else '–'} | {ckpt} |")
    return "\n".join(lines) + "\n"
