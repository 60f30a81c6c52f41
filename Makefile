# The two commands a new user needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export BW_VAR_DIR ?= var
TEST_DATABASE_URL_PG ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
# Test workers per database pass (pytest-xdist); both passes run at once under `make test`.
# Coverage is measured once, by the PostgreSQL pass when one answers (it reaches the most: 90.9%
# alone, 89.3% for SQLite, 91.1% both, 25 Nov 2026), else by the SQLite pass: tracing costs a
# pass half as much CPU again. `make test` judges it (fail_under, pyproject.toml).
COVERED_PASSES ?= sqlite postgres
COVERAGE = --cov --cov-report= --cov-fail-under=0
TEST_WORKERS ?= 2
TEST_OUT := build/test
# Whole modules per worker (module-scoped platforms start once), in collection order (process
# tests first; see tests/conftest.py). xdist's loadgroup does nothing under pytest 9.
# Bytecode written even where PYTHONDONTWRITEBYTECODE is set (container images set it): otherwise
# every pytest process rewrites and compiles again the test modules and the pytest plugins'
# packages (schemathesis, hypothesis), ~1.7 s of CPU each time.
PYTEST_PASS = PYTHONDONTWRITEBYTECODE= \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

.PHONY: run test test-sqlite test-postgres lint format bench install migrate seed clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/bw migrate

seed: migrate
	$(BIN)/bw seed demo

## Set everything up and start the platform (SQLite under var/ unless DATABASE_URL is set).
## A development run: the apps accept their built-in secrets (BW_ENV=development).
run: seed
	BW_ENV="$${BW_ENV:-development}" $(BIN)/bw up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services gateway bw

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## The whole suite: lint, the tests on SQLite and on PostgreSQL (when one answers), all three
## at once (each one's output is printed whole when it ends), then the coverage measured.
test: $(STAMP)
	@rm -rf $(TEST_OUT) && mkdir -p $(TEST_OUT)
	@if $(BIN)/python -m tests.pg_available "$${TEST_DATABASE_URL:-$(TEST_DATABASE_URL_PG)}"; \
	then covered=postgres; else covered=sqlite; fi; \
	$(MAKE) --no-print-directory -j3 --output-sync=target COVERED_PASSES=$$covered \
		lint test-sqlite test-postgres
	@export COVERAGE_FILE=$(TEST_OUT)/.coverage; \
	$(BIN)/coverage combine --quiet $(TEST_OUT) && \
	total="$$($(BIN)/coverage report --format=total --precision=1)"; status=$$?; \
	echo "Coverage of services, gateway and bw: $$total% (floor: fail_under in pyproject.toml)"; \
	exit $$status

test-sqlite: $(STAMP)
	@mkdir -p $(TEST_OUT)
	env -u TEST_DATABASE_URL -u DATABASE_URL COVERAGE_FILE=$(TEST_OUT)/.coverage.sqlite \
		$(PYTEST_PASS) $(if $(filter sqlite,$(COVERED_PASSES)),$(COVERAGE)) \
		--basetemp=$(TEST_OUT)/tmp-sqlite

test-postgres: $(STAMP)
	@mkdir -p $(TEST_OUT)
	@url="$${TEST_DATABASE_URL:-$(TEST_DATABASE_URL_PG)}"; \
	if $(BIN)/python -m tests.pg_available "$$url"; then \
		echo "PostgreSQL at $$url"; \
		TEST_DATABASE_URL="$$url" COVERAGE_FILE=$(TEST_OUT)/.coverage.postgres \
			$(PYTEST_PASS) $(if $(filter postgres,$(COVERED_PASSES)),$(COVERAGE)) \
			--basetemp=$(TEST_OUT)/tmp-postgres; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is not reachable at $$url, and CI requires it" >&2; exit 1; \
	else \
		echo "PostgreSQL not reachable at $$url: skipped the PostgreSQL run"; \
	fi

## The OpenAPI contract: generate TypeScript (openapi-typescript, default options) and Python
## (openapi-python-client) clients from the merged document; compile a typed client strictly.
.PHONY: contract
contract: $(STAMP)
	PYTHON=$(BIN)/python contract/check.sh

## Benchmarks (figures, not tests); on PostgreSQL too when one answers. BENCH_ARGS=--quick
bench: $(STAMP)
	@url="$${TEST_DATABASE_URL:-$(TEST_DATABASE_URL_PG)}"; \
	if $(BIN)/python -m tests.pg_available "$$url"; then \
		$(BIN)/python -m bench --postgres "$$url" $(BENCH_ARGS); \
	else \
		$(BIN)/python -m bench $(BENCH_ARGS); \
	fi

## Mutation testing (a figure, not a gate; slow): each target of tests/mutation_targets.py against
## its own tests, in build/mutate/, niced, two workers. MUTATE="etag idempotency" for some only.
.PHONY: mutate
mutate: $(STAMP)
	$(BIN)/python -m tests.mutate $(MUTATE)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
