"""The synthetic classes differ in how things move, never in a pose (the demo depends on it)."""
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import zarr


@pytest.fixture(scope="module")
def demo_like(tmp_path_factory):
    """The demo's own data (DemoConfig), prepared: clips [L, K, 3], labels, is-train (views 1-2)."""
    from gltr.configs import DemoConfig
    from gltr.demo import BENCHMARK
    from gltr.pipeline.prepare import prepare
    from gltr.pipeline.synth import synth_nwucla
    cfg = DemoConfig()
    root = tmp_path_factory.mktemp("demo_like")
    synth_nwucla(root / "raw", cfg.samples, seed=0, classes=cfg.classes, lengths=cfg.lengths)
    prepare("nwucla", root / "raw", root / "data", log=lambda line: None)
    manifest = pq.read_table(root / "data/manifest.parquet").to_pydict()
    store = zarr.open_group(root / "data/store.zarr", mode="r")
    offsets, motion = store["offsets"][:], store["motion"][:]
    clips = [motion[offsets[i]:offsets[i + 1], 0] for i in range(len(offsets) - 1)]     # [L, K, 3]
    train = np.array([s == "train" for s in manifest[f"split_{BENCHMARK}"]])
    assert 0 < train.sum() < len(train)
    return clips, np.array(manifest["label"]), train


def linear_probe_accuracy(x_train, y_train, x_test, y_test, classes: int) -> float:
    torch.manual_seed(0)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    xt, xv = (torch.tensor((a - mean) / std, dtype=torch.float32) for a in (x_train, x_test))
    head = torch.nn.Linear(xt.shape[1], classes)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(head(xt), torch.tensor(y_train))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (head(xv).argmax(1).numpy() == y_test).mean()


def test_a_single_frame_says_nothing_about_the_class(demo_like):
    clips, labels, train = demo_like
    rng = np.random.default_rng(0)
    frames, y, is_train = [], [], []
    for clip, label, tr in zip(clips, labels, train):
        for t in rng.integers(0, len(clip), 4):                 # 4 random frames per clip
            frames.append(clip[t].ravel())
            y.append(label)
            is_train.append(tr)
    frames, y, is_train = np.array(frames), np.array(y), np.array(is_train)
    classes = len(set(labels))
    acc = linear_probe_accuracy(frames[is_train], y[is_train], frames[~is_train], y[~is_train], classes)
    print("single-frame probe", acc)
    assert acc < 1 / classes + 0.12, acc                        # chance is 16.7 % for 6 classes


def test_the_motion_tells_the_classes_apart(demo_like):
    """Positive control: the hands' speed and the skew of their vertical velocity give the class."""
    clips, labels, train = demo_like

    def motion_features(clip):
        feats = []
        for hand in (7, 11):                                    # HandLeft, HandRight (Kinect v1 order)
            v = np.diff(clip[:, hand, 1])                       # vertical velocity
            speed = np.abs(v).mean()
            feats += [speed, (v ** 3).mean() / speed ** 3]
        return feats

    x = np.array([motion_features(c) for c in clips])
    centroids = np.stack([x[train & (labels == c)].mean(0) for c in range(len(set(labels)))])
    scale = x[train].std(0)
    predicted = (((x[~train, None] - centroids[None]) / scale) ** 2).sum(-1).argmin(1)
    print("motion control", (predicted == labels[~train]).mean())
    assert (predicted == labels[~train]).mean() > 0.8


def test_synthetic_nwucla_puts_a_third_of_every_class_in_every_view(tmp_path):
    from gltr.pipeline.names import parse_name
    from gltr.pipeline.synth import synth_nwucla
    paths = synth_nwucla(tmp_path, 36, seed=0, classes=4, lengths=(20, 21))
    names = [parse_name("nwucla", p.stem) for p in paths]
    assert len({p.stem for p in paths}) == 36                                     # no name twice
    counts = {}
    for n in names:
        counts[n["action"], n["view"]] = counts.get((n["action"], n["view"]), 0) + 1
    assert len(counts) == 4 * 3 and set(counts.values()) == {3}
    with pytest.raises(ValueError, match="NW-UCLA has 10 classes, not 11"):
        synth_nwucla(tmp_path / "x", 5, seed=0, classes=11)
