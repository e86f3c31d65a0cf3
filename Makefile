# The two commands a newcomer needs: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test test-modes lint browser install clean

$(INSTALLED): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

install: $(INSTALLED)

## The demo: both emulators, a local SMTP server, a generated store, the app installed and connected
## through the real flows, a first sync, then the host on http://127.0.0.1:5000 with its scheduler.
## It prints a short status and the login link last (Enter prints it again). Ctrl-C stops it.
## `make run DEMO_ARGS=--request-log` shows every request to the host and the emulators too.
DEMO_ARGS ?=
# The demo's host is on http on port 5000, not https on 443: allowed here, for development only.
run: export HOST_HOST__ALLOW_INSECURE_PUBLIC_URL := true
run: install
	@$(BIN)/flask --app host db upgrade
	@$(BIN)/flask --app host demo --port 5000 $(DEMO_ARGS)

## Run the whole test suite (SQLite; set DATABASE_URL for PostgreSQL).
test: install browser
	$(BIN)/python -m pytest

## The source, destination and sync suites again, with the emulators playing each UNCONFIRMED
## reading of the vendors' APIs other than their default (tools/test_modes.py; several minutes).
test-modes: install
	$(BIN)/python tools/test_modes.py

lint: install
	$(BIN)/ruff check .

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here), and
# axe-core from the npm registry for their accessibility check (into tools/axe/node_modules).
browser:
	@bash tools/ensure_chromium.sh
	@bash tools/ensure_axe.sh

clean:
	rm -rf $(VENV) instance .pytest_cache tools/axe/node_modules
