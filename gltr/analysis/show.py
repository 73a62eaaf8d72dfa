"""`gltr show`: render one sample of a prepared dataset (matplotlib, headless).

    gltr show data/nwucla a01_s01_e00_v01 --out sample.gif                  # animation
    gltr show data/nwucla a01_s01_e00_v01 --what motion --out sheet.png     # contact sheet of the model input

`joints`: the selected bodies in camera coordinates (front view: x right, y up), each person in
its own colour, bones from the dataset's topology, fixed axes over the whole clip, frame counter.
`motion`: the normalised model input: every joint's local position around the body centre
(rotated), the centre slot drawn at the origin, and the body-centre trajectory as a dashed black
path ending in a diamond of the person's colour.
A .png is a contact sheet of `frames` evenly spaced frames; .gif and .mp4 animate every frame.
"""
from pathlib import Path

import numpy as np

from gltr.datasets import Variant
from gltr.analysis.plots import pyplot, save
from gltr.safety import atomic_file

WHAT = ("joints", "motion")
FORMATS = (".png", ".gif", ".mp4")
MAX_SIDE = 4096             # pixels per side: one 4096x4096 RGBA frame is 64 MB in memory
MAX_FRAMES = 64             # panels on a .png contact sheet


def read_sample(data: Path, sample_id: str) -> dict:
    """{"joints", "motion": [L, P, K, 3], "label", "variant"} of one sample, from store.zarr and manifest.parquet."""
    import pyarrow.parquet as pq
    import zarr
    from gltr.pipeline.store import require_prepared
    data = require_prepared(data)
    manifest = pq.read_table(data / "manifest.parquet", columns=["sample_id", "label", "offset", "length"]).to_pydict()
    if sample_id not in manifest["sample_id"]:
        near = [s for s in manifest["sample_id"] if s.startswith(sample_id[:8])][:5]
        raise ValueError(f"{sample_id!r} is not in {data / 'manifest.parquet'}" + (f" (similar: {', '.join(near)})" if near else ""))
    i = manifest["sample_id"].index(sample_id)
    store = zarr.open_group(data / "store.zarr", mode="r")
    a, b = manifest["offset"][i], manifest["offset"][i] + manifest["length"][i]
    return {"joints": store["joints"][a:b], "motion": store["motion"][a:b], "label": manifest["label"][i],
            "variant": Variant.from_dict(dict(store.attrs["variant"]), str(data / "store.zarr"))}


def drawable(sample: dict, what: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(points [L, P, K, 2] to draw, trajectory [L, P, 2] or None, present [L, P]) in the front view (x, y)."""
    if what == "joints":
        x = sample["joints"]                                              # [L, P, K, 3] camera coordinates
        return x[..., :2], None, np.abs(x).sum((2, 3)) > 0                 # an absent person is all zeros
    c = sample["variant"].centre_joint
    m = sample["motion"].copy()                                           # [L, P, K, 3] local motions
    trajectory = m[:, :, c, :2].copy()                                    # [L, P, 2] g_t = q_c(t) - q_c(0)
    m[:, :, c] = 0                                                        # the centre, at the origin
    return m[..., :2], trajectory, np.abs(sample["joints"]).sum((2, 3)) > 0


def limits(points: np.ndarray, present: np.ndarray, trajectory: np.ndarray | None) -> tuple:
    """Fixed (xlim, ylim) over the whole clip, equal scale, 10 % margin."""
    xy = points[present].reshape(-1, 2)
    if trajectory is not None:
        xy = np.concatenate([xy, trajectory[present].reshape(-1, 2)])
    lo, hi = xy.min(0), xy.max(0)
    mid, half = (lo + hi) / 2, max((hi - lo).max() / 2, 1e-3) * 1.1
    return (mid[0] - half, mid[0] + half), (mid[1] - half, mid[1] + half)


def draw_frame(ax, t: int, points, trajectory, present, bones, lims, title: str | None = None) -> None:
    ax.clear()
    for p in range(points.shape[1]):
        if not present[t, p]:
            continue
        colour = f"C{p}"
        for i, j in bones:
            ax.plot(points[t, p, [i, j], 0], points[t, p, [i, j], 1], color=colour, lw=2)
        ax.scatter(points[t, p, :, 0], points[t, p, :, 1], color=colour, s=10, zorder=3)
        if trajectory is not None:
            ax.plot(trajectory[:t + 1, p, 0], trajectory[:t + 1, p, 1], color="black", lw=1.2, ls="--")
            ax.scatter(*trajectory[t, p], color=colour, edgecolor="black", marker="D", s=25, zorder=4)
    ax.set_xlim(*lims[0])
    ax.set_ylim(*lims[1])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.02, 0.98, f"frame {t + 1}/{len(points)}", transform=ax.transAxes, va="top", fontsize=8)   # clear of the feet
    if title:
        ax.set_title(title, fontsize=8)


def class_text(variant: Variant, label: int) -> str:
    """The dataset's own action code beside the manifest's 0-based label: 'A050, label 49' (NTU),
    'a08, label 6' (NW-UCLA, whose actions 7 and 10 do not exist), 'action 10, label 9' (PKU-MMD)."""
    return f"{variant.info.action_code(label)}, label {label}"


def show(data: Path, sample_id: str, out: Path, what: str = "joints", frames: int = 8,
         size: tuple = (960, 540), fps: int = 15) -> Path:
    """Render `sample_id` to `out` (.png contact sheet, .gif or .mp4) of `size` (width, height) pixels."""
    out = Path(out)
    if what not in WHAT:
        raise ValueError(f"--what must be one of {WHAT}, not {what!r}")
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"--out must end in one of {', '.join(FORMATS)}: {out}")
    if min(size) < 64 or max(size) > MAX_SIDE or frames < 1 or frames > MAX_FRAMES:
        raise ValueError(f"--size must be between 64x64 and {MAX_SIDE}x{MAX_SIDE} pixels and --frames between 1 "
                         f"and {MAX_FRAMES}, not {size[0]}x{size[1]} and {frames}")
    sample = read_sample(data, sample_id)
    points, trajectory, present = drawable(sample, what)
    bones = sample["variant"].info.bones
    lims = limits(points, present, trajectory)
    title = f"{sample_id}: {class_text(sample['variant'], sample['label'])}, {what}"
    plt = pyplot()
    dpi = 100
    L = len(points)
    if out.suffix.lower() == ".png":
        picks = np.unique(np.round(np.linspace(0, L - 1, min(frames, L))).astype(int))
        n = len(picks)                                     # the grid whose panels are closest to square
        rows = min(range(1, n + 1), key=lambda r: abs(np.log(size[0] / -(-n // r) / (size[1] / r))))
        cols = -(-n // rows)
        fig, axes = plt.subplots(rows, cols, figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, squeeze=False)
        for ax in axes.flat[len(picks):]:
            ax.axis("off")
        for ax, t in zip(axes.flat, picks):
            draw_frame(ax, int(t), points, trajectory, present, bones, lims)
        fig.suptitle(title, fontsize=9)
        save(fig, out, dpi=dpi)
        plt.close(fig)
        return out
    from matplotlib import animation
    if out.suffix.lower() == ".gif":                   # the writer first: a refusal leaves no unrendered animation
        writer = animation.PillowWriter(fps=fps)
    elif animation.FFMpegWriter.isAvailable():
        writer = animation.FFMpegWriter(fps=fps)
    else:
        raise RuntimeError("writing .mp4 needs ffmpeg on PATH; write a .gif or a .png contact sheet instead")
    fig, ax = plt.subplots(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    try:
        with atomic_file(out, suffix=out.suffix) as tmp:
            anim = animation.FuncAnimation(fig, lambda t: draw_frame(ax, t, points, trajectory, present, bones, lims,
                                                                     title), frames=L, interval=1000 / fps)
            anim.save(tmp, writer=writer, dpi=dpi)
    finally:
        plt.close(fig)
    return out
