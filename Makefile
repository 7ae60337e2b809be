# The two set-up commands: `make run` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# `make run PORT=8001 HOST=0.0.0.0` serves elsewhere.
HOST ?= 127.0.0.1
PORT ?= 8000
# GraphiQL's scripts: pinned npm tarballs fetched and verified at install time (never at run time)
ASSETS := socialtrading/graphql/static/graphiql/.manifest-sha256
# the graphql-ws reference client of the Node interop test (installed when npm is there)
NODE_CLIENT := tests/e2e/node/node_modules/.package-lock.json

.PHONY: run test lint typecheck pytest bench clean assets

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(ASSETS): $(STAMP) socialtrading/graphql/static/graphiql.toml scripts/fetch_graphiql.py
	$(BIN)/python scripts/fetch_graphiql.py
	touch $(ASSETS)

assets: $(ASSETS)

$(NODE_CLIENT): tests/e2e/node/package.json tests/e2e/node/package-lock.json
	cd tests/e2e/node && npm ci --no-audit --no-fund --loglevel=error

run: $(STAMP) $(ASSETS)
	$(BIN)/socialtrading serve --demo --host $(HOST) --port $(PORT)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(ASSETS) $(if $(shell command -v npm),$(NODE_CLIENT))
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py --orders 1000000 --seed 1

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
	rm -rf socialtrading/graphql/static/graphiql tests/e2e/node/node_modules
