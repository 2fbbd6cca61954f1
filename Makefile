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

.PHONY: demo test test-fast lint bytecode bench clean

# torch goes first, pinned exactly: any looser spec would pull several GB of CUDA packages.
# Where pip is configured with a find-links folder (PIP_FIND_LINKS or pip.conf) holding the
# CPU wheel torch-2.13.0+cpu for this Python, uv installs that very file (about 15 s instead
# of pip's 50 s); otherwise pip installs torch==2.13.0 as before (its index serves a CPU
# build). The rest goes through uv too, with plain pip as the fallback where uv cannot be
# installed; the last line fails the install if any CUDA package came in anyway.
# Bytecode is compiled once here (uv does not by default): where PYTHONDONTWRITEBYTECODE is
# set, as on CI, nothing imported is ever cached, so every process (each test, CLI run and
# Ray worker) compiled Ray, pandas, torch and great-expectations again: a 3-video CLI run
# cost 55 CPU-s instead of 27. `make test` and `make demo` compile the project's own
# packages the same way (only files changed since the last time).
TORCH := 2.13.0
TORCH_WHEEL = $(BIN)/python -c 'import sys, glob; tag = "cp%d%d" % sys.version_info[:2]; \
  print(next(iter(sorted(p for d in sys.argv[1:] for p in glob.glob(d + "/torch-$(TORCH)+cpu-" + tag + "-*.whl"))), ""))'
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv || true
	links="$${PIP_FIND_LINKS:-$$($(BIN)/python -m pip config get global.find-links 2>/dev/null)}"; \
	wheel=$$($(TORCH_WHEEL) $$links); \
	if [ -n "$$wheel" ] && $(BIN)/uv --version >/dev/null 2>&1 \
	    && $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python "$$wheel"; then :; \
	else \
	  $(BIN)/python -m pip install -q torch==$(TORCH); \
	fi
	if $(BIN)/uv --version >/dev/null 2>&1; then \
	  $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e ".[dev]"; \
	else \
	  $(BIN)/python -m pip install -q -e ".[dev]"; \
	fi
	! $(BIN)/python -m pip list 2>/dev/null | grep -i '^nvidia-'
	touch $(STAMP)

# The project's own bytecode (see above); compileall redoes only files changed since.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 longvid_pipeline longvid

demo: bytecode
	$(BIN)/longvid-pipeline run stages/demo.yaml --out $(OUT)
	$(BIN)/longvid-pipeline query $(OUT) "select task, count(*) as n from qa group by task order by task"

# Two pytest workers, one test file each at a time (module fixtures build once): the slow
# end-to-end tests spend much of their time waiting on Ray and subprocesses, so two files
# side by side beat one after another (12 min on 2 cores with bytecode compiled).
test: lint bytecode
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=25

test-fast: bytecode
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/segment.py
	$(BIN)/python benchmarks/segment_hard.py
	$(BIN)/python benchmarks/compress.py

clean:
	rm -rf out .pytest_cache .mypy_cache
