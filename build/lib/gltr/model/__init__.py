"""Stage-independent model code: imports neither gltr.pipeline nor gltr.train."""
