# The two commands of the README: `make run` and `make test`.
# `make run` installs the runtime dependencies (requirements.txt) only; `make test`, `make lint` and
# `make typecheck` install the development ones too (requirements-dev.txt, which holds the runtime set as well).
# Both files are compiled by pip-tools from requirements*.in, every package pinned with its hashes, and pip
# installs them in hash-checking mode: a changed or substituted file is refused. `make requirements` recompiles.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test lint typecheck format clean requirements screenshots

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt
	touch $(STAMP)

$(STAMP_DEV): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
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

# After editing requirements.in or requirements-dev.in (add --upgrade-package NAME to move one pin).
requirements: $(STAMP_DEV)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links requirements.in -o requirements.txt
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links requirements-dev.in -o requirements-dev.txt

# The README's admin screenshots (docs/screenshots/), from demo data in a headless Chromium.
screenshots: $(STAMP_DEV)
	$(BIN)/python -m docs.screenshots

clean:
	rm -rf $(VENV) .sandbox db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
