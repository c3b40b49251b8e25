# `make run` serves Discobot on 127.0.0.1:$(PORT); `make test` runs the checks and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3001

.PHONY: install run test lint lock bench

# Python keeps its compiled modules (__pycache__) even where the environment says not to: without
# them every process compiles its 1,400 modules again, 1.7 s of a 2.4 s start on this machine,
# paid by every server, worker, command and test server.
unexport PYTHONDONTWRITEBYTECODE

# uv (pinned and hashed in requirements-uv.lock) installs the locks: a fresh `make run` is
# serving in seconds. It reads the system's certificates, as pip does (--native-tls).
UV := $(BIN)/uv pip install --quiet --native-tls --python $(BIN)/python --require-hashes

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: requirements-uv.lock | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-uv.lock
	touch $@

# What the server needs (make run), and that plus the development tools (make test).
$(VENV)/.runtime: requirements.lock | $(BIN)/uv
	$(UV) -r requirements.lock
	touch $@

$(VENV)/.installed: requirements-dev.lock | $(BIN)/uv
	$(UV) -r requirements-dev.lock
	touch $@ $(VENV)/.runtime

install: $(VENV)/.installed

# The AI SDK the web app runs, for the chat stream's conformance tests, and esbuild, which
# bundles it into the browser test's page.
AI_SDK := tests/ai_sdk
$(AI_SDK)/node_modules/.installed: $(AI_SDK)/package-lock.json
	npm ci --prefix $(AI_SDK) --silent --no-audit --no-fund
	touch $@

# The server (a process per core) and one job worker, restarted whenever it exits; stopping
# the server (Ctrl-C) stops the worker too. A port in use is said so before anything starts.
run: $(VENV)/.runtime
	@$(BIN)/python -c 'import sys; from discobot.server import port_taken, port_taken_message; \
	  port_taken("127.0.0.1", $(PORT)) and sys.exit(port_taken_message("127.0.0.1", $(PORT)))'
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py worker --supervise & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/python -m discobot.server --host 127.0.0.1 --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: lint $(AI_SDK)/node_modules/.installed
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n 2

# Every figure of bench/ against its baseline, one table (docs/benchmarks.md keeps the latest).
bench: install
	$(BIN)/python bench/all.py

# Re-pin every dependency after editing pyproject.toml.
lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements-dev.lock
