# Every target creates .venv when it is missing. `make run` and `make test` are the whole set-up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= config/watcher.yaml
PYTEST_ARGS ?=

.PHONY: run test test-replicas test-container eval bench lint check-config clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

run: $(VENV)/.installed  ## the service on the shipped config, SQLite under var/
	$(VENV)/bin/watcher run --config $(CONFIG)

check-config: $(VENV)/.installed
	$(VENV)/bin/watcher check-config --config $(CONFIG)

test: $(VENV)/.installed-test  ## the whole suite (PostgreSQL tests need 127.0.0.1:5432, see README)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-replicas: $(VENV)/.installed-test  ## three real replicas on one PostgreSQL, one killed (slow, ~40 s)
	$(PY) -m pytest -q -s -m slow tests/test_replicas.py $(PYTEST_ARGS)

test-container: $(VENV)/.installed-test  ## build the image with podman, run it, lint the Dockerfile (root, apt)
	bash deploy/container-test.sh

eval: $(VENV)/.installed  ## extraction P/R/F1/kind on ../shared/eval/extract-dev.jsonl, per subset, 5-fold CV
	$(PY) -m watcher.extract.evaluate --folds 5

bench: $(VENV)/.installed-bench  ## every benchmark (~9 min on 2 cores) -> docs/benchmarks.md, docs/benchmarks.png
	$(PY) bench/run_all.py

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check watcher tests bench
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) var .pytest_cache
