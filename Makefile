# `make run` serves Discobot on 127.0.0.1:$(PORT); `make test` runs the checks and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3001

.PHONY: install run test lint lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements-dev.lock | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	touch $@

install: $(VENV)/.installed

# The AI SDK the web app runs, for the chat stream's conformance tests, and esbuild, which
# bundles it into the browser test's page.
AI_SDK := tests/ai_sdk
$(AI_SDK)/node_modules/.installed: $(AI_SDK)/package-lock.json
	npm ci --prefix $(AI_SDK) --silent --no-audit --no-fund
	touch $@

# The server and one job worker, restarted whenever it exits; stopping the server (Ctrl-C)
# stops the worker too.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py worker --supervise & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python -m discobot.server --host 127.0.0.1 --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: lint $(AI_SDK)/node_modules/.installed
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n 2

# Re-pin every dependency after editing pyproject.toml.
lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -q -o requirements-dev.lock
