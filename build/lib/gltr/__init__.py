"""gltr: GL-Transformer (Kim et al., ECCV 2022) for unsupervised skeleton action learning, data-pipeline first."""

__version__ = "0.1.0"
