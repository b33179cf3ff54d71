# The two commands of the README: `make run` and `make test`.
# `make run` installs the runtime dependencies (requirements.txt) only; `make test`, `make lint` and
# `make typecheck` install the development ones too (requirements-dev.txt, which includes requirements.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test lint typecheck format clean screenshots

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(STAMP_DEV): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP_DEV)

run: $(STAMP)
	$(BIN)/python -m b2s.run

test: $(STAMP_DEV)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

format: $(STAMP_DEV)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The README's admin screenshots (docs/screenshots/), from demo data in a headless Chromium.
screenshots: $(STAMP_DEV)
	$(BIN)/python -m docs.screenshots

clean:
	rm -rf $(VENV) .sandbox db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
