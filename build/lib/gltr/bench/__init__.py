"""Benchmarks (`make bench`): each writes a JSON of ratios measured within one run."""
