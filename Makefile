# `make run` and `make test` set everything up on a fresh machine (python3, git and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PIP := $(BIN)/pip install --quiet --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2
# asgi (default): gunicorn with uvicorn workers on socialsite.asgi, HTTP and the WebSocket /ws on
# one port; wsgi: gunicorn's sync workers on socialsite.wsgi, HTTP only (to compare).
SERVER ?= asgi
export SERVER
# An empty database gets the demo data (200 users; the demo login's password is public):
# `make run DEMO=no` in production.
DEMO ?= yes
# Extra options of the demo seeding, e.g. SEED_ARGS="--users 500" (only an empty database is seeded).
SEED_ARGS ?=

.PHONY: run dev setup test lint format fuzz bench bench-layers loadtest loadtest-ws clean

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
	[ "$(DEMO)" = no ] || $(MANAGE) seed_demo --if-empty $(SEED_ARGS)

# Without CHANNEL_LAYER_URL, the workers share a private Valkey on var/valkey-$(PORT).sock, which
# stops with the server (socialsite/embedded_valkey.py).
run: setup
	$(BIN)/python -m socialsite.embedded_valkey --socket var/valkey-$(PORT).sock \
		$(BIN)/gunicorn --config python:socialsite.gunicorn_config \
		--workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile -

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
# to run it on PostgreSQL; BENCH_ARGS="--http" to measure gunicorn over HTTP (port 5055, --port).
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The channel layer's choice: RedisChannelLayer against RedisPubSubChannelLayer on a private Valkey
# (docs/ARCHITECTURE.md, "Real time"). LAYER_ARGS="--groups 2000 --members 1 --sends 4000".
bench-layers: $(VENV)/.installed
	$(BIN)/python bench/channel_layers.py $(LAYER_ARGS)

# The load test: `make run` on a fresh database (SQLite in var/, or a new PostgreSQL database
# beside DATABASE_URL's), driven by 50 clients for 30 s; then every acknowledged write is checked.
# LOADTEST_ARGS="--clients 10 --seconds 10 --port 5350".
loadtest: $(VENV)/.installed .env
	$(BIN)/python bench/loadtest.py $(LOADTEST_ARGS)

# The WebSocket load test: `make run` on a fresh database, 1,000 sockets of mutual-friend pairs
# receiving 50 messages/s sent over HTTP for 60 s; delivery latency, frames lost or duplicated,
# server memory per socket; every acknowledged message stored once. Figures in
# var/loadtest-ws.json. LOADTEST_WS_ARGS="--sockets 100 --seconds 10 --idle 5000 --port 5361".
loadtest-ws: $(VENV)/.installed .env
	$(BIN)/python bench/loadtest_ws.py $(LOADTEST_WS_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
