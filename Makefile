# `make run` and `make test` set everything up on a fresh machine (python3, git and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PIP := $(BIN)/pip install --quiet --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2

.PHONY: run dev setup test lint format fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(PIP) -r requirements-dev.txt
	touch $@ $(VENV)/.installed

# A local .env with a generated SECRET_KEY, written once and never committed.
.env: | $(BIN)/python
	$(BIN)/python -c "import secrets; print('SECRET_KEY=' + secrets.token_urlsafe(50))" > $@

setup: $(VENV)/.installed .env
	mkdir -p var/media
	$(MANAGE) migrate --noinput
	$(MANAGE) createcachetable
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MANAGE) seed_demo --if-empty

run: setup
	$(BIN)/gunicorn socialsite.wsgi --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile -

dev: setup
	DEBUG=1 $(MANAGE) runserver $(HOST):$(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# A longer fuzzing run than `make test`'s: FUZZ_EXAMPLES generated cases per operation, and a
# new seed each run unless FUZZ_SEED is set (the run prints its seed). DATABASE_URL works here too.
FUZZ_EXAMPLES ?= 300
FUZZ_SEED ?=
fuzz: $(VENV)/.installed-dev
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) $(BIN)/pytest tests/test_fuzz.py

# The benchmark: BENCH_ARGS="--scales 1000,5000" (default 10,000 and 100,000 users); DATABASE_URL
# to run it on PostgreSQL; BENCH_ARGS="--http" to measure gunicorn over HTTP.
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
