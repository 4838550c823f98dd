# Two set-up commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test test-fast scale bench check reproduce strip-notebooks install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/regsim run scenarios/quickstart.yaml

test: install-dev
	$(BIN)/python -m pytest

test-fast: install-dev
	$(BIN)/python -m pytest -m 'not slow and not benchmark and not scale'

scale: install-dev
	$(BIN)/python -m pytest -m scale -s

bench: install-dev
	$(BIN)/python -m pytest -m benchmark --benchmark-columns=min,median,ops --benchmark-sort=name

check: install-dev
	$(BIN)/regsim check

strip-notebooks: install-dev
	$(BIN)/python -c "from tests.test_notebooks import strip_outputs; strip_outputs()"

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks .hypothesis

reproduce: install
	$(BIN)/regsim reproduce
