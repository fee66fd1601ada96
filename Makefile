# Every target installs what it needs: a fresh clone needs only python3.11 and make.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.lock | cut -c1-12)
BIN := $(VENV)/bin
# pytest's temporary folders: one per checkout, emptied by each run, rather than the numbered folders under
# /tmp/pytest-of-$USER that every pytest session of the user on the machine shares and rotates.
PYTEST_TMP := /tmp/pytest-mentalspace-$(shell printf %s "$(CURDIR)" | sha1sum | cut -c1-10)
# --dist worksteal: a worker out of tests takes half of the other's queue. With xdist's default (load) the tests
# queued on one worker stay there: one worker ran the last AdvancedMD and ERA tests for minutes while the other idled.
# Three workers on two cores: the end-to-end tests wait on servers, browsers and subprocesses, and a third worker
# fills those waits (CI on an idle 2-core machine, 2026-12-06: 22 min 35 s against 24 min 58 s with two).
PYTEST := $(BIN)/python -m pytest -n 3 --dist worksteal --basetemp $(PYTEST_TMP)

.PHONY: run build test test-fast lint bench lock clean

$(STAMP): requirements.lock pyproject.toml
	@echo "==> creating virtual environment and installing the lock (requirements.lock)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	@$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	@$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

## make run: build the embedded demo practice and serve Dagster + Streamlit (prints URLs)
run: $(STAMP)
	@$(BIN)/mentalspace demo

## make build: the same build without serving (non-interactive, for scripts and checks)
build: $(STAMP)
	@$(BIN)/mentalspace build --fresh

## make test: the whole test suite (DuckDB always; PostgreSQL when MENTALSPACE_TEST_PG_URL is set)
test: $(STAMP)
	@$(PYTEST) $(PYTEST_ARGS)

## make test-fast: the quick loop (under 3 min on 2 cores; issue 17): the parser, the services, the API and the
## other domain packages' tests (FAST_TESTS) but the end-to-end ones (marker e2e, tests/conftest.py), and the dbt
## unit tests on the smallest built practice. `make test` runs everything, the wiring's tests too: Dagster runs and
## landing (tests/orchestration, tests/mentalspace_platform), the CLI and `serve` (tests/*.py), the bench.
# Measured idle on 2 cores (2026-12-06), with MENTALSPACE_TEST_PG_URL set: 148, 148 and 152 s with three workers,
# 163-179 s with two (a worker waiting on a server or a rate limiter's window leaves a core to the third); 106 s
# without PostgreSQL. Every test but the end-to-end ones, with two workers, took 404 s.
# The dbt unit tests (one build, one dbt command; one summary line) run beside pytest rather than after it: while
# pytest's slowest tests finish, a core would sit idle. Either failing fails the target.
FAST_TESTS = tests/edi835 tests/operational_api tests/ingest tests/notifications tests/dashboards
test-fast: $(STAMP)
	@$(BIN)/python -m tests.dbt.unit_tests & units=$$!; \
	$(PYTEST) -m "not e2e" $(PYTEST_ARGS) $(FAST_TESTS); \
	tests=$$?; wait $$units; units=$$?; \
	[ $$tests -eq 0 ] && [ $$units -eq 0 ]

## make lint: ruff's lint rules and its formatting (ruff format --check), and sqlfluff over the dbt models
## (dbt_project/.sqlfluff: the style guide's SQL shape)
lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/sqlfluff lint dbt_project/models --processes 2 --disable-progress-bar 2>/dev/null || \
		(echo "sqlfluff: the models above break dbt_project/.sqlfluff (sqlfluff fix dbt_project/models fixes most)" >&2; exit 1)

## make bench: run the benchmarks and write bench/results/RESULTS.md
bench: $(STAMP)
	@$(BIN)/python -m bench $(BENCH_ARGS)

## make lock: re-resolve requirements.lock from pyproject.toml (needs network)
lock: $(STAMP)
	@$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) var dbt_project/target
