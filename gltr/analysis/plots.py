"""Figures (matplotlib, headless): attention analysis, probe curve, pretraining losses, accuracy bars.

Each function takes plain results (the JSON the commands write) and a path, and returns the
paths it wrote.
"""
from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, path: Path, **options) -> None:
    """fig.savefig(path), written whole or not at all (a temporary file beside it, then renamed)."""
    from gltr.safety import atomic_file
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix[1:], **options)


def encoder_name(encoder: dict) -> str:
    return "intervals {" + ", ".join(str(n) for n in encoder["intervals"]) + "}"


def file_tag(encoder: dict, index: int) -> str:
    return f"{index}-i" + "-".join(str(n) for n in encoder["intervals"])


# ----------------------------------------------------------------------------- attention (gltr attention)

def attention_figures(summary: dict, out: Path) -> list[Path]:
    """Per encoder: temporal maps and spatial maps (block x head grids); all encoders: attended distance."""
    paths = []
    for i, encoder in enumerate(summary["encoders"]):
        tag = file_tag(encoder, i)
        paths.append(map_grid(encoder["temporal_map"], out / f"temporal_maps_{tag}.png",
                              f"temporal attention, first {summary['frames']} frames ({encoder_name(encoder)}, "
                              f"{encoder['sequences']} sequences)", "key frame", "query frame"))
        paths.append(map_grid(encoder["spatial_map"], out / f"spatial_maps_{tag}.png",
                              f"spatial attention, averaged over frames ({encoder_name(encoder)}; "
                              f"trajectory tokens marked)", "key token", "query token", encoder["trajectory_tokens"]))
    paths.append(distance_plot(summary["encoders"], out / "attended_distance.png"))
    return paths


def map_grid(maps: list, path: Path, title: str, xlabel: str, ylabel: str, marks: list = ()) -> Path:
    """maps [block][head][q][k] as a grid of heat maps, blocks as rows, on one colour scale with its bar;
    tick labels on the outer maps; `marks` draws lines at those tokens."""
    import textwrap
    import numpy as np
    plt = pyplot()
    depth, heads = len(maps), len(maps[0])
    n_q, n_k = len(maps[0][0]), len(maps[0][0][0])
    vmax = float(np.max(maps)) or 1.0
    width = 1.6 * heads + 1.6
    fig, axes = plt.subplots(depth, heads, figsize=(width, 1.6 * depth + 1.4), dpi=110, squeeze=False,
                             layout="constrained")
    for b in range(depth):
        for h in range(heads):
            ax = axes[b][h]
            image = ax.imshow(maps[b][h], cmap="viridis", interpolation="nearest", vmin=0, vmax=vmax)
            for t in marks:
                ax.axhline(t, color="red", lw=0.5, alpha=0.7)
                ax.axvline(t, color="red", lw=0.5, alpha=0.7)
            ax.set_xticks([0, n_k // 2, n_k - 1] if b == depth - 1 else [])
            ax.set_yticks([0, n_q // 2, n_q - 1] if h == 0 else [])
            ax.tick_params(labelsize=6, length=2)
            if b == 0:
                ax.set_title(f"head {h + 1}", fontsize=8)
            if h == 0:
                ax.set_ylabel(f"block {b + 1}\n{ylabel}", fontsize=7)
            if b == depth - 1:
                ax.set_xlabel(xlabel, fontsize=7)
    bar = fig.colorbar(image, ax=axes, shrink=0.8)
    bar.set_label("attention weight (rows sum to 1)", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    text = f"{title}. Rows: {ylabel}, columns: {xlabel}."
    fig.suptitle("\n".join(textwrap.wrap(text, width=int(width * 11))), fontsize=9)   # ~11 characters per inch
    save(fig, path, bbox_inches="tight")
    plt.close(fig)
    return path


def distance_plot(encoders: list, path: Path) -> Path:
    """Fig. 4 (right): the average attended frame distance of every head, per block, one colour per encoder."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=120)
    width = 0.6 / max(len(encoders), 1)
    for e, encoder in enumerate(encoders):
        for b, heads in enumerate(encoder["mean_distance"]):
            x = b + 1 + (e - (len(encoders) - 1) / 2) * width
            ax.scatter([x] * len(heads), heads, color=f"C{e}", s=18, alpha=0.8,
                       label=encoder_name(encoder) if b == 0 else None)
            ax.hlines(sum(heads) / len(heads), x - width / 2, x + width / 2, color=f"C{e}")
    ax.set(xlabel="block", ylabel="average attended frame distance", title="temporal attention: how far each head looks")
    ax.set_xticks(range(1, len(encoders[0]["mean_distance"]) + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- evaluations

def probe_curve(curve: list, baselines: dict, paper: float | None, path: Path, title: str) -> Path:
    """Linear probe accuracy against pretraining epoch, baselines as horizontal lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    epochs = [p["epoch"] for p in curve]
    ax.plot(epochs, [p["test"] for p in curve], "o-", color="C0", label="MPDP-pretrained, test")
    ax.plot(epochs, [p["validation"] for p in curve], "s--", color="C0", alpha=0.5, label="MPDP-pretrained, validation")
    for (name, value), color in zip(baselines.items(), ("C3", "C2")):
        ax.axhline(value, color=color, linestyle="-.", label=f"{name}, test ({value:.1f})")
    if paper is not None:
        ax.axhline(paper, color="grey", linestyle=":", label=f"paper ({paper}, full model, 300 epochs)")
    ax.set(xlabel="pretraining epoch", ylabel="linear probe top-1 (%)", title=title, ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save(fig, path)
    plt.close(fig)
    return path


def loss_terms(metrics: list, path: Path, title: str) -> Path:
    """Pretraining loss from metrics.jsonl records: the total, and each interval's direction and magnitude terms."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    steps = [r["step"] for r in metrics]
    ax.plot(steps, [r["loss"] for r in metrics], color="black", lw=1.2, label="total")
    with_terms = [r for r in metrics if "loss_terms" in r]
    for i, interval in enumerate(with_terms[0]["loss_terms"] if with_terms else ()):
        for head, style in (("direction", "-"), ("magnitude", "--")):
            ax.plot([r["step"] for r in with_terms], [r["loss_terms"][interval][head] for r in with_terms],
                    style, color=f"C{i}", lw=1, label=f"{interval.replace('interval', 'interval ')}, {head}")
    ax.set(xlabel="step", ylabel="cross-entropy", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)   # beside, hiding no curve
    fig.tight_layout()
    save(fig, path, bbox_inches="tight")
    plt.close(fig)
    return path


def accuracy_bars(groups: list, path: Path, title: str = "evaluations beside their baselines and the paper") -> Path:
    """One group of bars per evaluation: pretrained, random init, hand-crafted (± std over seeds), the paper's
    real-data figure as a dotted tick; the legend sits outside the axes, so it hides nothing.

    groups: [{"label": str, "bars": {encoder: (top1, std or None)}, "paper": float or None}]
    """
    plt = pyplot()
    encoders = ("pretrained", "random", "handcrafted")
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(groups) + 2), 4.2), dpi=120)
    width = 0.26
    for e, name in enumerate(encoders):
        xs = [g for g, group in enumerate(groups) if name in group["bars"]]
        if not xs:                                  # no results of this encoder yet: no bar, no legend entry
            continue
        values = [groups[g]["bars"][name][0] for g in xs]
        at = [x + (e - 1) * width for x in xs]
        bars = ax.bar(at, values, width, color=f"C{e}",
                      label={"random": "random init", "handcrafted": "hand-crafted"}.get(name, name))
        ax.bar_label(bars, fmt="%.1f", fontsize=7, label_type="center", color="white", rotation=90)  # inside: clear
        spread = [(x, v, groups[g]["bars"][name][1]) for x, v, g in zip(at, values, xs) if groups[g]["bars"][name][1]]
        if spread:                                  # of the error bars and paper ticks; ± std only where there are seeds
            ax.errorbar([x for x, _, _ in spread], [v for _, v, _ in spread], yerr=[d for _, _, d in spread],
                        fmt="none", ecolor="black", capsize=3, lw=1)
    for g, group in enumerate(groups):
        if group["paper"] is not None:
            ax.hlines(group["paper"], g - 1.5 * width, g + 1.5 * width, color="black", linestyle=":",
                      label="paper (real data)" if g == min(i for i, x in enumerate(groups) if x["paper"] is not None)
                      else None)
    ax.set_xticks(range(len(groups)), [g["label"] for g in groups], fontsize=7)
    ax.set(ylabel="top-1 (%)", ylim=(0, 105), title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    save(fig, path, bbox_inches="tight")
    plt.close(fig)
    return path
