# Two commands: `make run` (set up and run everything) and `make test` (set up and run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test install install-dev migrate check-python clean bench-api

check-python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"' \
		|| { echo "make: $(PYTHON) is older than 3.11; run with PYTHON=python3.11 (or newer)"; exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# A first `make run` writes a local .env with a fresh SECRET_KEY; edit it to configure the service.
.env:
	$(BIN)/python scripts/make_dotenv.py .env.example $@

migrate: install .env
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PORT=$(PORT) $(BIN)/python scripts/run_local.py

# The suite runs on every core (pytest-xdist); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
test: install-dev
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# API benchmark against PostgreSQL (its own database, aggregator_bench); see bench/api_bench.py.
bench-api: install
	$(BIN)/python bench/api_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .test-db.sqlite3 .pytest_cache
