"""Stage 1: raw skeleton files -> prepared dataset (Zarr store, Parquet manifest, WebDataset shards)."""
