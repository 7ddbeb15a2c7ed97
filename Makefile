# Yichuang developer entry points. Every target works from a fresh clone:
# `deps` and `venv` install only what is missing (see scripts/bootstrap.sh).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-k locker -x"`.
PYTEST_ARGS ?=

.PHONY: demo test lint bench venv deps

deps:
	@bash scripts/bootstrap.sh deps

venv:
	@bash scripts/bootstrap.sh venv

test: deps venv
	$(PY) -m pytest $(PYTEST_ARGS)

demo: deps venv
	$(VENV)/bin/yichuang demo

lint: venv
	$(VENV)/bin/ruff check .

bench: deps venv
	@shopt -s nullglob; benches=(bench/[!_]*.py); \
	if [ $${#benches[@]} -eq 0 ]; then echo "no benchmarks in bench/"; exit 0; fi; \
	for b in "$${benches[@]}"; do echo "== $$b"; $(PY) "$$b" || exit 1; done
