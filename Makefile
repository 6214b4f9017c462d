# QSuite RegReport — developer and operator entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DATE    ?=
ORDERS  ?= 50000
SEED    ?= 42
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

# -- install ------------------------------------------------------------------------------------

$(STAMP): requirements/requirements.in requirements/dev.in requirements/lock.txt pyproject.toml
	@bash scripts/install-system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/requirements.in -r requirements/dev.in -c requirements/lock.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

.PHONY: install
install: $(STAMP) ## Create .venv with the pinned stack and system packages (idempotent)

.PHONY: lock
lock: ## Re-resolve requirements/*.in and rewrite requirements/lock.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -r requirements/requirements.in -r requirements/dev.in
	.venv-lock/bin/pip freeze --exclude-editable > requirements/lock.txt && rm -rf .venv-lock

# -- run ----------------------------------------------------------------------------------------

.PHONY: demo
demo: install ## Main job: start services, generate a business day, run the MiFIR DAG, print the summary
	$(BIN)/regreport demo $(if $(DATE),--date $(DATE)) --orders $(ORDERS) --seed $(SEED)

.PHONY: up
up: install ## Start the local PostgreSQL and S3 (Object Lock) servers
	$(BIN)/regreport services start

.PHONY: down
down: ## Stop the local services and Airflow UI
	@test -x $(BIN)/regreport && $(BIN)/regreport services stop || true

.PHONY: status
status: ## Show the local services
	$(BIN)/regreport services status

.PHONY: ui
ui: install ## Start the Airflow UI (login required) on the local services
	$(BIN)/regreport ui start

.PHONY: reports
reports: ## List the report registry
	$(BIN)/regreport reports list

# -- quality ------------------------------------------------------------------------------------

.PHONY: test
test: install ## Run every test suite (unit, integration against real services, end-to-end DAG)
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: install ## Fast tests only (no services)
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

.PHONY: test-integration
test-integration: install ## Tests against the real services, end-to-end DAG runs included
	$(BIN)/pytest -m "integration or e2e" $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff and sqlfluff
	$(BIN)/ruff check plugins dags tests benchmarks
	$(BIN)/ruff format --check plugins dags tests benchmarks
	cd dbt_project && ../$(BIN)/sqlfluff lint models --templater jinja

.PHONY: fmt
fmt: install ## Format Python code
	$(BIN)/ruff check --fix plugins dags tests benchmarks
	$(BIN)/ruff format plugins dags tests benchmarks

.PHONY: dbt-build
dbt-build: install ## dbt build for one period: make dbt-build DATE=2026-11-26 [DBT_ARGS=--full-refresh]
	cd dbt_project && ../$(BIN)/dbt build --profiles-dir . $(DBT_ARGS) --vars '{period_start: "$(DATE)T00:00:00+00:00", period_end: "'$$(date -u -d "$(DATE) + 1 day" +%F)'T00:00:00+00:00"}'

.PHONY: dbt-docs
dbt-docs: install ## Generate the dbt docs (the data dictionary)
	cd dbt_project && ../$(BIN)/dbt docs generate --profiles-dir .

.PHONY: bench
bench: install ## Run the benchmarks and write docs/benchmarks.md
	$(BIN)/python -m benchmarks.run

.PHONY: bench-risk
bench-risk: install ## Benchmark the 15c3-5 replay (10M orders, fast vs reference engine) into docs/benchmarks.md
	$(BIN)/python -m benchmarks.risk_replay

.PHONY: bench-periodic
bench-periodic: install ## Benchmark the periodic reports (30 days x 200k orders; ~1 h) into docs/benchmarks.md
	$(BIN)/python -m benchmarks.periodic

.PHONY: clean
clean: down ## Stop services and delete local state (.regreport/, and the cluster if it lives outside)
	@test -x $(BIN)/python && rm -rf "$$($(BIN)/python -c 'from regreport.config import Settings; from regreport.services.postgres import data_dir; print(data_dir(Settings.from_env()))')" || true
	rm -rf .regreport dbt_project/target dbt_project/logs
