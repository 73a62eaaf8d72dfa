# gltr recipes. `make test` and `make demo` do their own set-up on a fresh machine.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATASET ?= ntu120
SPLIT   ?= $(if $(filter nwucla,$(DATASET)),view,xsub)
RAW     ?= raw/$(DATASET)
DATA    ?= data/$(DATASET)
WORKERS ?= 2
NGPU    ?= 1
PRESET  ?= $(if $(filter nwucla,$(DATASET)),nwucla,ntu)
RUN     ?= runs/$(DATASET)-$(SPLIT)-$(PRESET)
ARGS    ?=
# one process, or torchrun with NGPU processes (multi-node: add torchrun's --nnodes/--rdzv options to TORCHRUN)
TORCHRUN ?= $(BIN)/torchrun --nproc_per_node $(NGPU)
GLTR_RUN := $(if $(filter-out 1,$(NGPU)),$(TORCHRUN) -m gltr.cli.main,$(BIN)/gltr)

CKPT    ?= $(RUN)/checkpoints/latest.pt
PERCENT ?= 5
SEEDS   ?= 0 1 2 3 4
REAL    ?= ../shared/data
# the real-data evidence run (docs/results.md): NW-UCLA, small() preset, 140 epochs (~1 CPU-hour); preset, lr and
# length chosen on the validation split
EV_DATA ?= data/nwucla
EV_RUN  ?= runs/nwucla-small
EV_OUT  ?= runs/evidence
EV_EPOCHS ?= 140
EV_LR   ?= 5e-4
EV_SEMI ?=

.PHONY: setup test fulltest docs fuzz demo prepare manifests pretrain linear knn semi finetune report evidence bench bench-scale gpu-evidence gpu-evidence-inputs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=70"
	$(BIN)/pip install -q -e ".[test]"
	touch $@

test: setup
	$(BIN)/pytest -q

fulltest: setup
	$(BIN)/pytest -q -m "slow or not slow"

docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

prepare: setup
	$(BIN)/gltr prepare $(DATASET) --raw $(RAW) --out $(DATA) --workers $(WORKERS)

pretrain: setup
	$(GLTR_RUN) pretrain --data $(DATA) --benchmark $(SPLIT) --preset $(PRESET) --out $(RUN) $(ARGS)

linear: setup
	$(BIN)/gltr linear --checkpoint $(CKPT) --data $(DATA) --benchmark $(SPLIT) $(ARGS)

knn: setup
	$(BIN)/gltr knn --checkpoint $(CKPT) --data $(DATA) --benchmark $(SPLIT) $(if $(K),--k $(K)) $(ARGS)

semi: setup
	$(BIN)/gltr semi --checkpoint $(CKPT) --data $(DATA) --benchmark $(SPLIT) --percent $(PERCENT) $(foreach s,$(SEEDS),--seed $(s)) $(ARGS)

# fine-tuning on 100 % of the labels; RANDOM_INIT=1 trains from scratch instead (the baseline; needs OUT_FT)
OUT_FT ?= $(RUN)/finetune-scratch
FT_SEEDS ?= 0
finetune: setup
	$(BIN)/gltr finetune $(if $(RANDOM_INIT),--random-init --out $(OUT_FT),--checkpoint $(CKPT)) --data $(DATA) \
		--benchmark $(SPLIT) $(foreach s,$(FT_SEEDS),--seed $(s)) $(ARGS)

report: setup
	$(BIN)/gltr report $(RUN)

evidence: setup
	$(BIN)/gltr prepare nwucla --raw $(REAL)/nw_ucla --out $(EV_DATA) --workers $(WORKERS) --overwrite
	$(BIN)/gltr pretrain --data $(EV_DATA) --benchmark view --preset small --lr $(EV_LR) --batch-size 64 \
		--epochs $(EV_EPOCHS) --save-every 10 --workers 1 --out $(EV_RUN)
	$(BIN)/gltr evidence --data $(EV_DATA) --run $(EV_RUN) --out $(EV_OUT) $(EV_SEMI)

manifests: setup
	$(BIN)/gltr manifests --data ../shared/data --out data_manifests

demo: setup
	$(BIN)/gltr demo --out demo --workers $(WORKERS)

ONLY ?=
bench: setup
	$(BIN)/python -m gltr.bench --out bench --real $(REAL) $(foreach o,$(ONLY),--only $(o))

# the full-size NTU-120 benchmark (113,945 hard-linked raw files; tens of minutes, ~40 GB of free disk): bench/scale.json
bench-scale: setup
	$(BIN)/python -m gltr.bench.scale_bench --out bench --real $(REAL)

# property-based fuzzing at scale: every reader gltr has, 9 input kinds (gltr/bench/fuzz.py WEIGHTS: 2 x FUZZ_EXAMPLES
# each for ntu, nwucla, pku, index, tar; 0.8 x for prepare_json, eval_json; the checkpoint (399) and options (714)
# grids whole): ~29,000 examples, ~20 min on one core -> bench/fuzz.json (make test runs a bounded version)
FUZZ_EXAMPLES ?= 2500
fuzz: setup
	$(BIN)/python -m gltr.bench.fuzz --out bench --real $(REAL) --examples $(FUZZ_EXAMPLES)

# The GPU run (docs/benchmarks.md, "GPU evidence"): inputs are made here, the run happens on the device with
# its own python (PY=python3); QUICK=1 runs the same script at tiny sizes on any machine.
OUT ?= bench
PY  ?= $(BIN)/python
gpu-evidence-inputs: setup
	$(BIN)/gltr prepare nwucla --raw $(REAL)/nw_ucla --out $(EV_DATA) --workers $(WORKERS) --overwrite
	$(BIN)/python -m gltr.bench.gpu_evidence --make-inputs --real $(REAL) --data $(EV_DATA) --inputs .gpu
	$(BIN)/pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu/wheels \
		zarr==3.1.6 numcodecs==0.16.6 donfig==0.8.1.post1 google-crc32c==1.9.0 webdataset==1.0.2 braceexpand==0.1.7

gpu-evidence: $(if $(filter $(BIN)/python,$(PY)),setup)
	$(if $(QUICK),test -d .gpu/nwucla || $(MAKE) gpu-evidence-inputs,)
	mkdir -p $(OUT)
	set -o pipefail; PYTHONUNBUFFERED=1 $(PY) -m gltr.bench.gpu_evidence --out $(OUT) --inputs .gpu --lr $(EV_LR) \
		$(if $(QUICK),--quick) 2>&1 | tee $(OUT)/gpu-evidence.log

clean:
	rm -rf demo bench runs site .pytest_cache
