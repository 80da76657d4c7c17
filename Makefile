# The two commands of README.md:
#   make demo   set everything up and run the nightly DAG once on the built-in synthetic shop
#   make test   set everything up and run the whole test suite (what CI runs, via .ci/run)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DS ?= 2024-06-30
# The built-in shop's test sets are small: the demo gates on sanity floors (see the file); GATES= uses the defaults.
GATES ?= $(CURDIR)/config/gates-small-shop.yaml
ENV := source scripts/env.sh &&
# The Airflow home: an AIRFLOW_HOME exported in the shell is used (and set up) instead, as scripts/env.sh does.
AIRFLOW_HOME ?= $(CURDIR)/airflow_home
export AIRFLOW_HOME

.PHONY: setup demo ui test lint format bench clean-data

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . || $(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The embedded Airflow home: SQLite metadata DB, LocalExecutor, examples off, this project's dags and plugins.
$(AIRFLOW_HOME)/airflow.db: $(STAMP)
	mkdir -p $(AIRFLOW_HOME)
	$(ENV) airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	$(ENV) airflow pools set tensorflow 1 "at most one TensorFlow training task at a time" >> $(AIRFLOW_HOME)/db-migrate.log 2>&1

setup: $(STAMP) $(AIRFLOW_HOME)/airflow.db

demo: setup
	$(ENV) ECOM_GATE_CONFIG='$(GATES)' airflow dags test ecom_nightly $(DS) $(if $(CONF),-c '$(CONF)',) > $(AIRFLOW_HOME)/demo-$(DS).log 2>&1 \
		|| (tail -60 $(AIRFLOW_HOME)/demo-$(DS).log; echo "the run failed; full log: $(AIRFLOW_HOME)/demo-$(DS).log"; exit 1)
	$(ENV) python -m ecom_tasks.cli summary --ds $(DS)

# The UI (and the Shop ML page) on http://127.0.0.1:8080/ecom/: the api-server alone serves it (README "Open the UI").
ui: setup
	$(ENV) airflow api-server

test: setup
	bash scripts/ci_services.sh || echo "PostgreSQL/Redis could not be installed: tests/ops topology test will skip"
	bash scripts/ci_browser.sh || echo "chromium could not be installed: the UI browser test will skip"
	$(ENV) ruff check . && $(ENV) ruff format --check .
	$(ENV) python -m pytest $(PYTEST_ARGS)

lint:
	$(ENV) ruff check . && $(ENV) ruff format --check .

format:
	$(ENV) ruff check --fix . && $(ENV) ruff format .

bench: setup
	$(ENV) for b in bench/bench_*.py; do echo "== $$b"; python $$b; done
