"""`gltr report RUNS...`: every evaluation JSON under the runs as markdown: the pretrained encoder
beside its baselines (random init, hand-crafted features) and the paper, then every result in full."""
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
            try:
                r = json.loads(path.read_bytes()[:64 << 20])
                evaluation = r["evaluation"]
                kind = evaluation + (str(r["percent"]) if evaluation == "semi" else "")
                if not {"dataset", "benchmark", "protocol", "top1"} <= set(r):
                    raise KeyError("dataset, benchmark, protocol or top1")
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}: not a gltr evaluation result ({type(e).__name__}: {e})") from None
            if r.get("evaluation") == "semi" and "seeds" not in r:
                continue                                   # per-seed files: the summary row covers them
            rows.append({"run": str(run), "file": path.name, "kind": kind, **r})
    return rows


def encoder_of(r: dict) -> str:
    return r.get("encoder") or ("random" if r.get("random_init") else "pretrained")


def top1_text(r: dict) -> str:
    return f"{r['top1']:.1f}" + (f" ± {r['top1_std']:.1f}" if "top1_std" in r else "")


def grouped(rows: list[dict]) -> dict:
    """{(evaluation, dataset, benchmark, split, protocol): {encoder: [results]}} in the rows' order."""
    groups = {}
    for r in rows:
        key = (r["kind"], r["dataset"], r["benchmark"], r.get("split", "test"), r["protocol"])
        groups.setdefault(key, {}).setdefault(encoder_of(r), []).append(r)
    return groups


def paper_number(kind: str, dataset: str, benchmark: str, split: str, paper: bool = True) -> float | None:
    """The paper's real-data figure for a test-split result; none for validation, or where `paper` is False
    (results on synthetic data, such as the demo's, have no paper figure to stand beside)."""
    return PAPER.get((kind, dataset, benchmark)) if split == "test" and paper else None


def comparison(rows: list[dict], paper: bool = True) -> str:
    """One line per (evaluation, dataset, benchmark, split, protocol): pretrained | random | hand-crafted | paper."""
    lines = ["| evaluation | dataset | benchmark | split | protocol | pretrained | random init | hand-crafted | paper |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (kind, dataset, benchmark, split, protocol), by in grouped(rows).items():
        cells = [" / ".join(map(top1_text, by.get(e, []))) or "–" for e in ("pretrained", "random", "handcrafted")]
        number = paper_number(kind, dataset, benchmark, split, paper)
        lines.append(f"| {kind} | {dataset} | {benchmark} | {split} | {protocol} | {' | '.join(cells)} | "
                     f"{number if number is not None else '–'} |")
    return "\n".join(lines) + "\n"


def markdown(rows: list[dict], paper: bool = True) -> str:
    """The comparison, then every result with its run, top-5 and checkpoint. `paper=False`: synthetic data."""
    lines = [comparison(rows, paper),
             "| run | evaluation | dataset | benchmark | split | protocol | encoder | top-1 | top-5 | paper top-1 | checkpoint |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        split = r.get("split", "test")
        top5 = f"{r['top5']:.1f}" + (f" ± {r['top5_std']:.1f}" if "top5_std" in r else "")
        number = paper_number(r["kind"], r["dataset"], r["benchmark"], split, paper)
        ckpt = str(r.get("checkpoint_sha256") or "")[:12] if encoder_of(r) == "pretrained" else "–"
        lines.append(f"| {r['run']} | {r['kind']} | {r['dataset']} | {r['benchmark']} | {split} | {r['protocol']} | "
                     f"{encoder_of(r)} | {top1_text(r)} | {top5} | {number if number is not None else '–'} | {ckpt} |")
    if not paper:
        lines.append("\nSynthetic data: the paper's figures are for real datasets, so none is shown.")
    return "\n".join(lines) + "\n"


def figures(rows: list[dict], runs: list[Path], folder: Path, paper: bool = True) -> list[Path]:
    """<folder>/accuracy.png (every comparison line as bars, the paper as a tick) and, per run with a
    metrics.jsonl, <folder>/loss-<run>.png (the pretraining loss and its per-interval, per-head terms)."""
    from gltr import plots
    folder.mkdir(parents=True, exist_ok=True)
    groups = []
    for (kind, dataset, benchmark, split, protocol), by in grouped(rows).items():
        for j in range(max(map(len, by.values()))):                 # several runs of one encoder: one group each
            bars = {e: (results[j]["top1"], results[j].get("top1_std")) for e, results in by.items() if j < len(results)}
            label = f"{kind} {dataset}\n{benchmark} {split}" + (f" ({j + 1})" if j else "")
            groups.append({"label": label, "bars": bars, "paper": paper_number(kind, dataset, benchmark, split, paper)})
    title = ("evaluations beside their baselines and the paper" if paper else
             "evaluations beside their baselines (synthetic data: no paper figure)")
    paths = [plots.accuracy_bars(groups, folder / "accuracy.png", title)] if groups else []
    for run in runs:
        metrics = Path(run) / "metrics.jsonl"
        if metrics.exists() and metrics.stat().st_size:
            records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
            paths.append(plots.loss_terms(records, folder / f"loss-{Path(run).resolve().name}.png",
                                          f"MPDP pretraining loss: {run}"))
    return paths
