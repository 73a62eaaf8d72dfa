"""gltr: GL-Transformer (Kim et al., ECCV 2022) for unsupervised skeleton action learning, data-pipeline first.

The Python API, by stage (in parentheses, where the names live; the reference is docs/api.md):

- **Datasets** (`gltr.datasets`, `gltr.pipeline`): `DATASETS` (joints, bones, splits, classes of each
  dataset), `Variant` (the choices stored with prepared numbers), `prepare` (raw files -> a prepared dataset).
- **Reading a prepared dataset** (`gltr.train`): `PreparedData` (a prepared dataset opened once: its
  variant, identity digest, split indices and sample names), `read_index` (a split's shard index and variant),
  `LoaderConfig` and `ShardLoader` (padded, masked batches; resumable by (epoch, batch)).
- **Model** (`gltr.model.gltransformer`): `GLTConfig`, `GLTransformer`, the presets `ntu`, `nwucla`,
  `small`, `tiny`, `for_dataset` (a preset fitted to joints, persons, T_max), `for_variant` (a preset fitted
  to a prepared dataset's variant), `pool_valid` (clip features).
- **MPDP pretext task** (`gltr.pipeline.mpdp`, `gltr.train.loss`): `mpdp_labels` (multi-interval
  displacement classes of a motion batch), `mpdp_loss` (the authors' weighted cross-entropy, valid frames).
- **Training and evaluation** (`gltr.configs`, `gltr.train`): `PretrainConfig` and `pretrain` (the
  `gltr pretrain` run), `load_encoder` (a checkpoint's model), `LinearConfig` and `linear_eval` (the
  `gltr linear` probe), `KnnConfig` and `knn_eval` (`gltr knn`), `FinetuneConfig`, `semi_config` and
  `finetune_eval` (`gltr finetune`, and `gltr semi`: fine-tuning on a committed list of 1 / 5 / 10 % of the labels).
- **Exports** (`gltr.export`): `export_ctrgcn`, `export_mamp`, `export_pyskl` (files other codebases read).

One MPDP step on a prepared dataset, from your own code (a tiny model on CPU):

```python
import gltr
variant = gltr.read_index("data/ntu120", "xsub", "train")["variant"]
loader = gltr.ShardLoader("data/ntu120", "xsub", "train", gltr.LoaderConfig(batch_size=8, workers=0))
cfg = gltr.for_dataset(gltr.tiny(), variant.persons, variant.joints, variant.centre_joint, variant.t_max)
model = gltr.GLTransformer(cfg)
batch = next(loader.epoch(0))                    # motion [B, T, P, K, 3], mask [B, T], label [B]
direction, magnitude = gltr.mpdp_labels(batch["motion"], cfg.intervals)     # [B, T, I, P, K] each
direction_logits, magnitude_logits = model(batch["motion"], batch["mask"])  # [B, T, I, N, 27 | 16]
trajectory = [p * cfg.joints + cfg.centre for p in range(cfg.persons)]      # the body-centre tokens
loss, terms = gltr.mpdp_loss(direction_logits, magnitude_logits, direction.flatten(-2),
                             magnitude.flatten(-2), batch["mask"], trajectory)
loss.backward()
```

`import gltr` stays cheap and torch-free: each name is imported from its module on first use (PEP 562).
"""

__version__ = "0.1.0"

# The public API: name -> the object's full dotted path. The one place it is listed.
API = {
    # datasets
    "DATASETS": "gltr.datasets.DATASETS",
    "Variant": "gltr.datasets.Variant",
    "prepare": "gltr.pipeline.prepare.prepare",
    # reading a prepared dataset
    "PreparedData": "gltr.train.prepared.PreparedData",
    "read_index": "gltr.train.prepared.read_index",
    "LoaderConfig": "gltr.train.data.LoaderConfig",
    "ShardLoader": "gltr.train.data.ShardLoader",
    # model
    "GLTConfig": "gltr.model.gltransformer.GLTConfig",
    "GLTransformer": "gltr.model.gltransformer.GLTransformer",
    "ntu": "gltr.model.gltransformer.ntu",
    "nwucla": "gltr.model.gltransformer.nwucla",
    "small": "gltr.model.gltransformer.small",
    "tiny": "gltr.model.gltransformer.tiny",
    "for_dataset": "gltr.model.gltransformer.for_dataset",
    "for_variant": "gltr.model.gltransformer.for_variant",
    "pool_valid": "gltr.model.gltransformer.pool_valid",
    # MPDP pretext task
    "mpdp_labels": "gltr.pipeline.mpdp.mpdp_labels",
    "mpdp_loss": "gltr.train.loss.mpdp_loss",
    # training and evaluation
    "PretrainConfig": "gltr.configs.PretrainConfig",
    "pretrain": "gltr.train.pretrain.train",
    "load_encoder": "gltr.train.downstream.load_encoder",
    "LinearConfig": "gltr.configs.LinearConfig",
    "linear_eval": "gltr.train.evaluate.linear_eval",
    "KnnConfig": "gltr.configs.KnnConfig",
    "knn_eval": "gltr.train.evaluate.knn_eval",
    "FinetuneConfig": "gltr.configs.FinetuneConfig",
    "semi_config": "gltr.configs.semi_config",
    "finetune_eval": "gltr.train.finetune.finetune_eval",
    # exports
    "export_ctrgcn": "gltr.export.ctrgcn.export_ctrgcn",
    "export_mamp": "gltr.export.mamp.export_mamp",
    "export_pyskl": "gltr.export.pyskl.export_pyskl",
}

__all__ = list(API)


def __getattr__(name: str):
    """Import a public name from its module on first use (PEP 562), then keep it here."""
    if name not in API:
        raise AttributeError(f"module 'gltr' has no attribute {name!r}")
    import importlib
    module, attr = API[name].rsplit(".", 1)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
