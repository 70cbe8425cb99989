# The two commands a newcomer needs: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint types screenshots-before bench bench-analytics drills drills-quick install install-run clean

# The service's own dependencies (requirements.txt): all `make run` needs (the venv's own pip
# installs them; upgrading it first cost ~7 s of a clean `make run` and changed nothing).
$(BIN)/.run-installed: requirements.txt
	@command -v $(PY) >/dev/null || { echo "needs $(PY) (set PY=python3.x)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# The development toolchain on top (requirements-dev.txt): tests, linters, types, bench, drills.
$(BIN)/.installed: $(BIN)/.run-installed requirements-dev.txt
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install-run: $(BIN)/.run-installed

install: $(BIN)/.installed

## Serve with demo data on SQLite at http://127.0.0.1:8002 (gunicorn)
run: install-run
	SEED_DEMO=1 PYTHON=$(BIN)/python bin/start

## Run the test suite (SQLite unless DATABASE_URL is set). Browser tests need Debian's chromium
## (/usr/bin/chromium): without it they skip with the reason, except under CI=true (.ci/run installs it).
## TEST_WORKERS: pytest-xdist processes (most of the suite waits on servers, browsers and PostgreSQL, so
## three share two cores well: the suite took 8.7 min with 3 against ~16 min alone on a loaded machine).
TEST_WORKERS ?= 3
test: install
	bin/fetch-axe || echo "axe-core not fetched (npm?): accessibility checks skip, and fail under CI=true"
	$(BIN)/pytest -q -n $(TEST_WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy .

## Issue 18's "before" screenshots: the browser tests' pages at main's last commit before it,
## in a temporary git worktree, written to artifacts/before/ (docs/development.md)
screenshots-before: install
	bin/screenshots-before

## Benchmark (needs PostgreSQL, Redis and wrk); prints the table and rewrites docs/performance.md's
bench: install
	$(BIN)/python bench/run.py --docs

## Analytics at 10k vs 1M dispatch rows (needs DATABASE_URL=postgres://.../<a database for it only>)
bench-analytics: install
	$(BIN)/python bench/analytics_scale.py

## Reliability drills at full length (private PostgreSQL/Redis/gunicorn); rewrites docs/reliability.md's table
drills: install
	$(BIN)/python -m drills.run --docs

## The same drills at CI length (what .ci/run runs); prints the table, writes no file
drills-quick: install
	$(BIN)/python -m drills.run --quick

clean:
	rm -rf $(VENV) staticfiles db.sqlite3* artifacts
