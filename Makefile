# OmniClaude developer commands. `make help` lists them.
# Every target creates the virtual environment it needs (.venv) from constraints.txt.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(BIN)/python -m pytest

.DEFAULT_GOAL := help
.PHONY: help venv run test lint typecheck security test-unit test-integration test-system \
        test-load test-chaos bench schemas clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install OmniClaude with its dev tools (pinned)

run: venv ## Set up and run the whole system (embedded PostgreSQL + Tansu + consumer + API + viewer)
	$(BIN)/omniclaude up

test: venv ## Set up and run the whole test suite, stage by stage (what CI runs)
	$(BIN)/python scripts/ci_stages.py

lint: venv ## ruff, and import-linter for the architecture's boundaries
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports

typecheck: venv ## mypy --strict on src/, and on the typing tests (tests/typing)
	$(BIN)/mypy
	$(BIN)/mypy tests/typing

security: venv ## bandit on src/ (no high-severity finding allowed)
	$(BIN)/bandit -q -c pyproject.toml -r src -lll

test-unit: venv ## unit tests with the coverage gate
	$(PYTEST) tests/unit tests/typing -n 2 --cov --cov-branch --cov-fail-under=80

test-integration: venv ## integration tests against real PostgreSQL and a real broker
	$(PYTEST) tests/integration

test-system: venv ## system tests (full stack through the HTTP API)
	$(PYTEST) tests/system

test-load: venv ## load tests (OMNICLAUDE_LOAD_SECONDS, default 15)
	$(PYTEST) tests/load

test-chaos: venv ## chaos tests (broker, PostgreSQL and consumer killed; outbox filled)
	$(PYTEST) tests/chaos

bench: venv ## benchmarks (print figures and ratios)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/hook.py
	$(BIN)/python bench/route.py
	$(BIN)/python bench/publish.py
	$(BIN)/python bench/otlp.py

schemas: venv ## re-export the committed event JSON Schemas
	$(BIN)/omniclaude schemas export schemas

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage* htmlcov test-output
