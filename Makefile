# The two set-up commands: `make run` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# GraphiQL's scripts: pinned npm tarballs fetched and verified at install time (never at run time)
ASSETS := socialtrading/graphql/static/graphiql/.manifest-sha256

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

run: $(STAMP) $(ASSETS)
	$(BIN)/socialtrading serve --demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(ASSETS)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py --orders 1000000 --seed 1

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
	rm -rf socialtrading/graphql/static/graphiql
