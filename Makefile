# live2d-notify — `make run` starts the service on the embedded SQLite default, `make test` runs the tests.
# Both install what they need first (a virtualenv in .venv, the page's npm packages in static/node_modules).

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 8000

.PHONY: run test bench lint fmt install install-test page clis clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[push]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

static/node_modules/.package-lock.json: static/package-lock.json
	npm ci --prefix static --no-audit --no-fund --loglevel=error

install: $(VENV)/.installed page
tests/e2e/node_modules/.package-lock.json: tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error

install-test: $(VENV)/.installed-test page clis
page: static/node_modules/.package-lock.json
clis: tests/e2e/node_modules/.package-lock.json  # the real Claude Code, Codex and Gemini CLIs, for end-to-end tests

run: install
	$(BIN)/live2d-notify serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench/node_modules/.package-lock.json: bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund --loglevel=error  # Lighthouse (bench/extra_lighthouse.py)

bench: install-test bench/node_modules/.package-lock.json
	$(BIN)/python bench/run.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench modal_app.py
	$(BIN)/ruff format --check src tests bench modal_app.py
	$(BIN)/mypy src

fmt: install-test
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) static/node_modules tests/e2e/node_modules bench/node_modules .pytest_cache .mypy_cache .ruff_cache
