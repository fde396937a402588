# popreg: two commands from a fresh machine.
#   make demo   environment, synthetic county, demo accounts, server on 127.0.0.1:8000
#   make test   environment, the whole suite against SQLite and against PostgreSQL
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
DEMO   ?= var/demo-county
SEED   ?= 20251101
PYTEST_ARGS ?=

.PHONY: install demo test test-sqlite test-postgres lint bench clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,spark]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# Debian packages the suite needs (CJK fonts for PDFs); installed only when missing.
system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: $(STAMP) system-deps lint test-sqlite test-postgres

# The SQLite pass also runs the Spark engines in local mode (pyspark + the machine's Java 17).
test-sqlite: $(STAMP)
	POPREG_TEST_SPARK=1 $(BIN)/pytest -n 2 -p no:cacheprovider $(PYTEST_ARGS)

# The PostgreSQL pass runs the tests that touch the database (see tests/conftest.py).
test-postgres: $(STAMP)
	DATABASE_URL=$(PG_URL) POPREG_TEST_DB_ONLY=1 $(BIN)/pytest -n 2 -p no:cacheprovider $(PYTEST_ARGS)

demo: $(STAMP)
	@bash scripts/system-deps.sh --demo
	mkdir -p var
	test -f $(DEMO)/manifest.json || $(BIN)/popreg synth --seed $(SEED) --out $(DEMO)
	$(BIN)/popreg migrate --noinput -v 0
	$(BIN)/popreg load $(DEMO) --if-empty
	$(BIN)/popreg stats_refresh --at loaded --no-dse --keep 1
	$(BIN)/popreg demo_accounts
	# The job worker runs beside the server and stops with it (Ctrl+C).
	$(BIN)/popreg worker & WORKER=$$!; trap 'kill $$WORKER 2>/dev/null; wait $$WORKER' EXIT INT TERM; \
	$(BIN)/popreg runserver 127.0.0.1:8000 --noreload

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var build *.egg-info
