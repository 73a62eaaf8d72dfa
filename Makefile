# gltr recipes. `make test` and `make demo` do their own set-up on a fresh machine.
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

.PHONY: setup test fulltest demo prepare manifests pretrain bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

test: setup
	$(BIN)/pytest -q

fulltest: setup
	$(BIN)/pytest -q -m "slow or not slow"

prepare: setup
	$(BIN)/gltr prepare $(DATASET) --raw $(RAW) --out $(DATA) --workers $(WORKERS)

pretrain: setup
	$(GLTR_RUN) pretrain --data $(DATA) --benchmark $(SPLIT) --preset $(PRESET) --out $(RUN) $(ARGS)

manifests: setup
	$(BIN)/gltr manifests --data ../shared/data

demo: setup
	rm -rf demo
	$(BIN)/gltr synth ntu --out demo/raw --samples 240 --classes 6 --seed 0
	$(BIN)/gltr prepare ntu120 --raw demo/raw --out demo/data --workers $(WORKERS) --shard-size 64
	$(BIN)/gltr inspect demo/data

bench: setup
	$(BIN)/python -m gltr.bench --out bench

clean:
	rm -rf demo bench runs .pytest_cache
