# `make demo` and `make test` work on a fresh clone with only Python 3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

# Ratios against baselines measured in the same run (~15 min on 2 cores, run it alone); writes benchmarks/RESULTS.md. Not part of `test`.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet 'py-spy>=0.3,<1'  # the CPU profiles that explain a figure that misses
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
