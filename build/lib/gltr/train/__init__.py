"""Stage 2: trainers that stream the prepared WebDataset shards."""
