# The two commands of a new machine: `make run` and `make test`. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: run test lint install tools clean catalogues

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "codo needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## Everything local: embedded PostgreSQL and Redis (data under .codo/), demo data, API and worker.
## `make run PORT=8765` serves on another port.
run: $(STAMP)
	$(BIN)/codo dev --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Chromium (browser tests) and Node.js (test identity provider, helm) from the system's packages.
tools:
	@infra/scripts/install-test-tools.sh

## Lint, types and the whole suite against a throwaway PostgreSQL and Redis the tests start.
test: lint tools
	$(BIN)/pytest

## Add new message ids (pages, e-mails, domain errors) to the catalogues; fill in the German after.
catalogues: $(STAMP)
	$(BIN)/python infra/scripts/catalogues.py $(ARGS)

clean:
	rm -rf $(VENV) .codo .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
