# Everything a fresh machine needs. `make demo` and `make test` install on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench coverage-doc generate hcl-cache package clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check "pip<26.3"
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: install
	$(PY) -m chalicelib demo

test: install lint
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

coverage-doc: install
	$(PY) -m chalicelib coverage --markdown > docs/COVERAGE.md

generate: install
	$(PY) infra/generate.py

hcl-cache: install
	$(PY) -m chalicelib.state.hcl build

package: install
	$(PY) -m chalicelib.state.hcl check
	$(PY) infra/package.py

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
