# Everything runs inside .venv, created from Pipfile.lock (locked versions) on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIPENV := .tools/bin/pipenv
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_YES := 1
export PIPENV_NOSPIN := 1
export PIPENV_IGNORE_VIRTUALENVS := 1

.PHONY: test lint typecheck demo examples bench reliability clean venv build validate docs build-env build-lock

venv: $(VENV)/.synced

$(PIPENV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install -q pipenv==2026.10.3

$(VENV)/.synced: Pipfile.lock | $(PIPENV)
	$(PIPENV) sync --dev
	touch $@

test: venv
	$(PY) -m pytest
	$(PY) -m ruff check .
	$(PY) -m mypy .

lint: venv
	$(PY) -m ruff check .

typecheck: venv
	$(PY) -m mypy .

# Hostile input, secrets, faults, nothing lost, TLS and proxy (reliability/README.md): prints one table and writes it to
# reliability/results.md; fails when a case fails, data is lost or a secret leaks.
reliability: venv
	$(PY) -m reliability

demo: venv
	$(PY) -m demo

# docs/examples/<command>.md from real runs against the emulator, then README.md's generated block.
examples: venv
	$(PY) -m demo.examples
	$(PY) -m build_tools docs

# Our way against the naive way on a 50,000-user emulator; writes bench/results.md, fails when a budget is missed.
bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache $(BUILD_VENV) build dist

# --- Shipping to XSOAR (build_tools/, README "Build and validation") ------------------------------------------------
# demisto-sdk's pins clash with the dev tools, so it lives in its own environment, synced from its own lock
# (build_tools/Pipfile, category [build]) with the same pipenv.
BUILD_VENV := .venv-build
BUILD_PIPENV := PIPENV_PIPFILE=build_tools/Pipfile VIRTUAL_ENV=$(CURDIR)/$(BUILD_VENV) PIPENV_IGNORE_VIRTUALENVS=0 \
	PIPENV_VERBOSITY=-1 $(PIPENV)

build-env: $(BUILD_VENV)/.synced

$(BUILD_VENV)/bin/python:
	$(PYTHON) -m venv $(BUILD_VENV)

$(BUILD_VENV)/.synced: build_tools/Pipfile.lock | $(PIPENV) $(BUILD_VENV)/bin/python
	$(BUILD_PIPENV) sync --categories=build
	touch $@

# After editing build_tools/Pipfile: relock, then commit build_tools/Pipfile.lock.
build-lock: | $(PIPENV) $(BUILD_VENV)/bin/python
	$(BUILD_PIPENV) lock

# dist/integration-MicrosoftGraphUser.yml and dist/MicrosoftGraphUser.zip, made by demisto-sdk prepare-content.
build: venv build-env
	$(PY) -m build_tools build

# demisto-sdk validate (offline selection), then the server-style exec test on the SDK-unified script just built.
validate: build
	$(PY) -m build_tools validate
	$(PY) -m pytest tests/build/test_unified_exec.py

# README.md's generated block from MicrosoftGraphUser.yml and docs/examples/.
docs: venv
	$(PY) -m build_tools docs
