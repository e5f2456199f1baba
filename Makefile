# Two commands for a new user: `make run` (the main job on the embedded default) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test lint proto bench images images-cuda lock audit clean

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

# The Premiere Pro panel (plugins/premiere): npm packages as locked, TypeScript regenerated from
# the proto, type-checked and built into plugins/premiere/dist (load its manifest.json in UXP
# Developer Tool; docs/premiere.md).
.PHONY: panel
panel: $(STAMP)
	cd plugins/premiere && npm ci --no-audit --no-fund && npm run proto && npm run build

bench: $(STAMP)
	$(BIN)/foley-server bench --repeat 2 --json tests/benchmarks/results/presets_cpu.json

# IMAGE_ARGS, e.g. on a machine without Docker Hub:
#   IMAGE_ARGS="--base-image foley-base:bookworm-python3.11 --wheelhouse-from-pip-config"
images: $(STAMP)
	$(BIN)/python images/build.py $(IMAGE_ARGS)

# The CUDA flavour (PyTorch's CUDA wheels from PyPI, same Debian base), with SBOMs and a size
# report; it runs here without a GPU. tests/docker/test_image_cuda.py builds and checks it too.
images-cuda: $(STAMP)
	$(BIN)/python images/build.py --flavour cuda --sbom build/sbom \
		--report tests/benchmarks/results/images_cuda.json $(IMAGE_ARGS)

# Re-pin every wheel by hash after a dependency change (images/lock/), and audit the pins.
lock: $(STAMP)
	$(BIN)/python images/lock.py

audit: $(STAMP)
	$(BIN)/python images/lock.py audit

clean:
	rm -rf $(VENV) demo_out .pytest_cache
