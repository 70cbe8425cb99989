# The two commands a newcomer needs: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: browser run test lint types check bench bench-analytics drills drills-quick install clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PY) >/dev/null || { echo "needs $(PY) (set PY=python3.x)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

# Browser tests drive Debian's chromium; install it when missing and we may (root with apt-get).
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install -y chromium"; exit 1; fi; }

## Serve with demo data on SQLite at http://127.0.0.1:8002 (gunicorn)
run: install
	SEED_DEMO=1 PYTHON=$(BIN)/python bin/start

## Run the test suite (SQLite unless DATABASE_URL is set)
test: install browser
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy .

bench: install
	$(BIN)/python bench/run.py

## Analytics at 10k vs 1M dispatch rows (needs DATABASE_URL=postgres://.../<a database for it only>)
bench-analytics: install
	$(BIN)/python bench/analytics_scale.py

## Reliability drills at full length (private PostgreSQL/Redis/gunicorn); rewrites README's table
drills: install
	$(BIN)/python -m drills.run --readme

## The same drills at CI length (what .ci/run runs)
drills-quick: install
	$(BIN)/python -m drills.run --quick

clean:
	rm -rf $(VENV) staticfiles db.sqlite3* artifacts
