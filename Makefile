# Two commands for a fresh machine: `make run` and `make test` (both start with `make setup`).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WEB := webapp
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig*.json -type f 2>/dev/null)

.PHONY: setup run test test-python test-web test-e2e lint format migrate bench chaos clean

## setup: virtualenv in .venv, Python and Node dependencies, the built web app (starts nothing)
setup: $(VENV)/.installed $(WEB)/node_modules/.installed $(WEB)/dist/index.html

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $@

$(WEB)/dist/index.html: $(WEB)/node_modules/.installed $(WEB_SOURCES)
	cd $(WEB) && npm run build

## run: the whole engine on embedded defaults (SQLite, local or bundled Redis), demo user
run: setup
	$(PY) -m server.devstack

## test: every test — Python (PostgreSQL + Redis + real workers), vitest, Chromium end to end
test: setup test-python test-web

test-python:
	$(PY) -m pytest -q

test-web:
	cd $(WEB) && npm test

test-e2e: setup
	$(PY) -m pytest -q -m e2e

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	cd $(WEB) && npm run lint

format:
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## migrate: apply pending migrations to $$DATABASE_URL (default: the SQLite file)
migrate: $(VENV)/.installed
	$(PY) -m server.persistence.migrate

clean:
	rm -rf $(WEB)/dist var/engine.db* .pytest_cache

## bench: the whole-engine benchmark (real stack, fresh database) → bench-results.json and
## the table in docs/performance.md; BENCH_ARGS=--quick for the smoke mode
bench: $(VENV)/.installed
	$(PY) -m tests.perf.engine_bench.harness $(BENCH_ARGS)

## chaos: failure drills against the real stack → table in docs/reliability.md, exit 1 on a
## violated invariant; CHAOS_ARGS=--quick for the smoke mode
chaos: $(VENV)/.installed
	$(PY) -m tests.perf.engine_bench.chaos $(CHAOS_ARGS)
