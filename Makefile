# Everything runs inside .venv, created from Pipfile.lock (locked versions) on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIPENV := .tools/bin/pipenv
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_YES := 1
export PIPENV_NOSPIN := 1
export PIPENV_IGNORE_VIRTUALENVS := 1

.PHONY: test lint typecheck demo clean venv

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

demo: venv
	$(PY) -m demo

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
