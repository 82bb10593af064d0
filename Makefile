# One command each: `make run` starts the chat offline, `make test` runs every test.
# Both create .venv and install what they need on first use. Flags go in ARGS, for example
# `make run ARGS="--host-port 7072"` or `make bench ARGS=--quick`.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# checkov pins its own dependencies (it downgrades `packaging` below what pytest needs), so it
# lives in a venv of its own; tests/deploy finds it there (or at $$CHECKOV).
CHECKOV := $(VENV)/tools/checkov/bin/checkov
# Azurite, the storage emulator that keeps the chat history locally (see the block at the end).
AZURITE := devstack/azurite/node_modules/.bin/azurite-table

.PHONY: run emulator host test lint bench clean azurite

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(CHECKOV):
	$(PYTHON) -m venv $(VENV)/tools/checkov
	$(VENV)/tools/checkov/bin/pip install --quiet checkov==3.3.30

run: $(STAMP) $(AZURITE)  ## the emulator on :8080, the Functions host on :7071 and Azurite's Table service on :10002
	$(PY) -m devstack $(ARGS)

emulator: $(STAMP)
	$(PY) -m devstack.emulator $(ARGS)

host: $(STAMP)
	$(PY) -m devstack.host $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(STAMP) $(CHECKOV) lint $(AZURITE)
	./tools/install-system-packages.sh
	$(PY) -m pytest

bench: $(STAMP) $(AZURITE)
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/artifacts bench/results devstack/azurite/node_modules

# --- Azurite (rooms and history) -------------------------------------------------------------
# The storage emulator's Table service keeps the chat history locally. It comes from the npm
# registry, pinned by devstack/azurite/package-lock.json (3.35.x: the last line that runs on
# Node 20); `npm ci` installs exactly that. Its data lives in .azurite/ (git-ignored).
$(AZURITE): devstack/azurite/package.json devstack/azurite/package-lock.json
	./tools/install-system-packages.sh
	cd devstack/azurite && npm ci --no-audit --no-fund --ignore-scripts
	touch $(AZURITE)

azurite: $(AZURITE)
