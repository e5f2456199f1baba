# Two commands for a new user: `make run` (the main job on the embedded default) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test lint proto bench images clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: the CPU build where a local wheel is offered, so the rest of the
	# install never pulls the multi-GB CUDA packages on a CPU-only machine.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,model,ray]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m plugin_server.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check plugin_server timeline tests images

proto: $(STAMP)
	$(BIN)/python -m plugin_server.proto_build

bench: $(STAMP)
	$(BIN)/foley-server bench --repeat 2 --json tests/benchmarks/results/presets_cpu.json

# IMAGE_ARGS, e.g. on a machine without Docker Hub:
#   IMAGE_ARGS="--base-image foley-base:bookworm-python3.11 --wheelhouse-from-pip-config"
images: $(STAMP)
	$(BIN)/python images/build.py $(IMAGE_ARGS)

clean:
	rm -rf $(VENV) demo_out .pytest_cache
