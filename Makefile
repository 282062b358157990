# The two commands: `make demo` (set up and run the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PYTEST_ARGS ?=

.PHONY: demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("aistack needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Core install: the bundled ONNX model and clip, no torch.
$(VENV)/.core: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e .
	touch $@

# Everything the tests use, including the ultralytics backend (torch, about 6 GB).
$(VENV)/.dev: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e '.[ultralytics,rtsp,eval,workbench,languages,dev]'
	touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/aistack demo

test: $(VENV)/.dev
	YOLO_OFFLINE=1 ORT_DISABLE_TELEMETRY=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.core
	$(BIN)/aistack bench pipeline

clean:
	rm -rf aistack-demo .pytest_cache .mypy_cache .ruff_cache
