"""`gltr report RUNS...`: every evaluation JSON under the runs as markdown: the pretrained encoder
beside its baselines (random init, hand-crafted features) and the paper, then every result in full."""
from pathlib import Path

from gltr import records
from gltr.records import result_name

# The paper's Tables 1-3 (linear evaluation and semi-supervised fine-tuning, top-1 %)
PAPER = {
    ("linear", "ntu60", "xsub"): 76.3, ("linear", "ntu60", "xview"): 83.8, ("linear", "ntu120", "xsub"): 66.0,
    ("linear", "ntu120", "xset"): 68.7, ("linear", "nwucla", "view"): 90.4,
    ("semi5", "ntu60", "xsub"): 64.5, ("semi10", "ntu60", "xsub"): 68.6, ("semi5", "ntu60", "xview"): 68.5,
    ("semi10", "ntu60", "xview"): 74.9, ("semi5", "nwucla", "view"): 58.5, ("semi10", "nwucla", "view"): 74.3,
}

# MAMP (ICCV'23), the field's usual point of comparison, top-1 %
MAMP = {
    ("linear", "ntu60", "xsub"): 84.9, ("linear", "ntu60", "xview"): 89.1, ("linear", "ntu120", "xsub"): 78.6,
    ("linear", "ntu120", "xset"): 79.1, ("linear", "pkummd2", "xsub"): 53.8,
    ("finetune", "ntu60", "xsub"): 93.0, ("finetune", "ntu60", "xview"): 97.5, ("finetune", "ntu120", "xsub"): 89.8,
    ("finetune", "ntu120", "xset"): 91.5,
}
ENCODERS = ("pretrained", "random", "handcrafted")


def current_checkpoints(run: Path) -> set | None:
    """The weights sha256 of the checkpoints now in <run>/checkpoints (from their mirror JSONs); None for a folder
    without any (one that holds only evaluations, such as a baseline's --out)."""
    mirrors = sorted(Path(run).glob("checkpoints/*.json"))
    return {records.read(m, records.CheckpointMirror).weights_sha256 for m in mirrors} if mirrors else None


def collect(runs: list[Path], stale: list | None = None) -> list[dict]:
    """Every evaluation result of the runs whose encoder is still there. A pretrained encoder's result whose
    checkpoint is no longer in its run (the run was started again, or the file replaced) is left out, and
    `(path, why)` goes to `stale` when a list is given."""
    rows = []
    for run in runs:
        have = current_checkpoints(run)
        for path in sorted(Path(run).glob("eval/*.json")):
            r = records.read(path, records.EvalResult).model_dump()
            evaluation = r["evaluation"]
            kind = evaluation + (str(r["percent"]) if evaluation == "semi" else "")
            ckpt = r["checkpoint_sha256"]
            if have is not None and encoder_of(r) == "pretrained" and ckpt not in have:
                if stale is not None:
                    stale.append((path, f"its checkpoint {str(ckpt)[:12]} is no longer in {Path(run) / 'checkpoints'}"))
                continue
            if evaluation in ("semi", "finetune") and r.get("seeds") is None:
                summary = path.with_name(result_name(evaluation, r["benchmark"], r["percent"], r["split"] == "validation",
                                                     encoder=encoder_of(r)) + ".json")
                covered = summary.exists() and summarizes(records.read(summary, records.EvalResult).model_dump(), r)
                if covered:
                    continue                               # one of several seeds: their summary row covers it
            rows.append({"run": str(run), "file": path.name, "kind": kind, **r})
    return rows


def summarizes(summary: dict, r: dict) -> bool:
    """True if a seeds' summary was made from this per-seed result (its seed, with this top-1): a result of the
    same seed run again since is not hidden behind an older summary."""
    seeds, top1 = summary.get("seeds") or [], summary.get("per_seed_top1") or []
    return r.get("seed") in seeds and len(top1) == len(seeds) and top1[seeds.index(r["seed"])] == r["top1"]


def field_protocol(r: dict) -> str:
    """The row of the field's table (docs/evaluation.md) a test-split result belongs to."""
    kind = r["evaluation"]
    name = {"linear": "linear", "knn": f"kNN-{r.get('k', '?')}", "finetune": "fine-tune"}.get(kind)
    if kind == "semi":
        name = f"semi {r['percent']} %"
    if kind == "linear" and r["protocol"] != "cached":
        name += f" ({r['protocol']})"
    if r.get("transfer"):
        name = f"transfer from {r['pretrained_on']}: {name}"
    return name


ORDER = ("linear", "kNN-1", "kNN-", "semi 1 %", "semi 5 %", "semi 10 %", "fine-tune", "transfer")


def field_table(rows: list[dict], paper: bool = True) -> str:
    """The field's layout: rows = protocol, columns = dataset/benchmark, cells 'pretrained / random init /
    hand-crafted' (top-1 %, final epoch, test split), then the paper's and MAMP's figure where they exist."""
    cells, columns, kinds = {}, [], {}
    for r in rows:
        if r.get("split", "test") != "test":
            continue
        column, protocol = f"{r['dataset']} {r['benchmark']}", field_protocol(r)
        if column not in columns:
            columns.append(column)
        kinds[protocol] = None if r.get("transfer") else r["kind"]     # a transfer row has no published figure here
        cell = cells.setdefault(protocol, {}).setdefault(column, {})
        if encoder_of(r) not in cell or r.get("seeds"):                 # a seeds' mean over a single seed
            cell[encoder_of(r)] = top1_text(r)
    if not cells:
        return ""
    protocols = sorted(cells, key=lambda p: (next(i for i, o in enumerate(ORDER + ("",)) if p.startswith(o)), p))
    lines = ["| protocol | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for protocol in protocols:
        row = []
        for column in columns:
            by = cells[protocol].get(column, {})
            text = " / ".join(by.get(e, "–") for e in ENCODERS) if by else "–"
            dataset, benchmark = column.split(" ")
            refs = [f"{who} {table[(kinds[protocol], dataset, benchmark)]}" for who, table in (("paper", PAPER),
                    ("MAMP", MAMP)) if paper and (kinds[protocol], dataset, benchmark) in table]
            row.append(text + (f" ({', '.join(refs)})" if refs and by else ""))
        lines.append(f"| {protocol} | " + " | ".join(row) + " |")
    return ("Each cell: pretrained / random init / hand-crafted, top-1 % on the test split, final epoch"
            + ("; in brackets the paper's (GL-Transformer) and MAMP's figure." if paper else ".") + "\n\n"
            + "\n".join(lines) + "\n")


def encoder_of(r: dict) -> str:
    return r.get("encoder") or ("random" if r.get("random_init") else "pretrained")


def top1_text(r: dict) -> str:
    return f"{r['top1']:.1f}" + (f" ± {r['top1_std']:.1f}" if r.get("top1_std") is not None else "")


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
    lines = [field_table(rows, paper), comparison(rows, paper),
             "| run | evaluation | dataset | benchmark | split | protocol | encoder | top-1 | top-5 | paper top-1 | checkpoint |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        split = r.get("split", "test")
        top5 = "–" if r.get("top5") is None else f"{r['top5']:.1f}" + (f" ± {r['top5_std']:.1f}" if r.get("top5_std") is not None else "")
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
    from gltr.analysis import plots
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
            lines = [r.model_dump() for r in records.read_lines(metrics, records.MetricsLine)]
            paths.append(plots.loss_terms(lines, folder / f"loss-{Path(run).resolve().name}.png",
                                          f"MPDP pretraining loss: {run}"))
    return paths
