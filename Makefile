# longvid: two commands do all the set-up on a fresh machine.
#   make demo   create .venv when missing, install, run the embedded demo recipe, print a summary
#   make test   same set-up, then lint, format and type checks, then the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/demo
# What ruff lints and format-checks; mypy's file list is in pyproject.toml.
CHECKED := longvid_pipeline longvid tests benchmarks scripts

.PHONY: demo test test-fast lint bench clean

# torch goes first, pinned exactly and through pip: a CPU build is served for torch==2.13.0
# (pip's configured wheel folder), and any looser spec would pull several GB of CUDA
# packages. The rest goes through uv (installed by pip; seconds instead of a minute), with
# plain pip as the fallback where uv cannot be installed.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q uv || true
	if $(BIN)/uv --version >/dev/null 2>&1; then \
	  $(BIN)/uv pip install -q --python $(BIN)/python -e ".[dev]"; \
	else \
	  $(BIN)/python -m pip install -q -e ".[dev]"; \
	fi
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/longvid-pipeline run stages/demo.yaml --out $(OUT)
	$(BIN)/longvid-pipeline query $(OUT) "select task, count(*) as n from qa group by task order by task"

test: lint
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/segment.py
	$(BIN)/python benchmarks/compress.py

clean:
	rm -rf out .pytest_cache .mypy_cache
