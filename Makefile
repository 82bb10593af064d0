# One command each: `make run` starts the chat offline, `make test` runs every test.
# Both create .venv and install what they need on first use. Flags go in ARGS, for example
# `make run ARGS="--host-port 7072"` or `make bench ARGS=--quick`.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Tools that pin their own dependencies live in venvs of their own, each pinned here:
# checkov downgrades `packaging` below what pytest needs; azure-cli brings ~150 packages that the
# app must not see; uv only writes the lock. tests/deploy finds them there (or at $$CHECKOV and
# $$AZURE_CLI_PYTHON).
CHECKOV := $(VENV)/tools/checkov/bin/checkov
AZ := $(VENV)/tools/azure-cli/bin/az
UV := $(VENV)/tools/uv/bin/uv
# Azurite, the storage emulator that keeps the chat history locally (see the block at the end).
AZURITE := devstack/azurite/node_modules/.bin/azurite-table
# axe-core, the accessibility engine the browser tests inject (see the block at the end).
AXE := tests/browser/axe/node_modules/axe-core/axe.min.js

.PHONY: run emulator host check test lint lock bench clean azurite

# The venv is installed from the lock: every package pinned and hash-checked.
# The first `make run` spends about a minute here and in Azurite's install: each says so first.
$(STAMP): requirements-dev.lock
	@echo "==> First run: creating $(VENV) and installing the pinned Python packages (about a minute)..."
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)
	@echo "==> Python packages installed."

$(CHECKOV):
	$(PYTHON) -m venv $(VENV)/tools/checkov
	$(VENV)/tools/checkov/bin/pip install --quiet checkov==3.3.30

$(AZ):
	$(PYTHON) -m venv $(VENV)/tools/azure-cli
	$(VENV)/tools/azure-cli/bin/pip install --quiet azure-cli==2.91.0

$(UV):
	$(PYTHON) -m venv $(VENV)/tools/uv
	$(VENV)/tools/uv/bin/pip install --quiet uv==0.13.9

run: $(STAMP) $(AZURITE)  ## the emulator on :8080, the Functions host on :7071 and Azurite's Table service on :10002
	@echo "==> Starting the chat: Azurite, the Web PubSub emulator and the Functions host..."
	$(PY) -m devstack $(ARGS)

emulator: $(STAMP)
	$(PY) -m devstack.emulator $(ARGS)

host: $(STAMP)
	$(PY) -m devstack.host $(ARGS)

lint: $(STAMP)  ## ruff, then mypy over function_app.py, chat/ (strict) and adapters/ (pyproject.toml)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

check: lint $(AZURITE)  ## the fast loop: lint and the app's unit tests (seconds; they use a throwaway Azurite)
	$(PY) -m pytest tests/app -q

test: $(STAMP) $(CHECKOV) $(AZ) lint $(AZURITE) $(AXE)
	./tools/install-system-packages.sh
	$(PY) -m pytest

# Re-resolve requirements-dev.lock after editing requirements.txt or requirements-dev.txt. Versions
# already in the lock are kept; `make lock ARGS=--upgrade` moves everything to the newest release.
# One universal resolution serves this machine's Python (3.11+) and Azure's (3.12). The two checks
# after it: every locked version has Linux wheels for Python 3.12, and requirements.txt resolves
# there with wheels only, as Azure's remote build will resolve it.
AZURE_TARGET := --python-version 3.12 --python-platform x86_64-manylinux_2_28 --only-binary :all:
lock: $(UV)
	$(UV) pip compile requirements-dev.txt --universal --python-version 3.11 --generate-hashes \
	  --no-header --quiet --output-file requirements-dev.lock $(ARGS)
	$(UV) pip compile requirements-dev.lock $(AZURE_TARGET) --quiet --output-file /dev/null
	$(UV) pip compile requirements.txt $(AZURE_TARGET) --quiet --output-file /dev/null

bench: $(STAMP) $(AZURITE)
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache tests/artifacts bench/results devstack/azurite/node_modules \
	  tests/browser/axe/node_modules

# --- Azurite (rooms and history) -------------------------------------------------------------
# The storage emulator's Table service keeps the chat history locally. It comes from the npm
# registry, pinned by devstack/azurite/package-lock.json (3.35.x: the last line that runs on
# Node 20); `npm ci` installs exactly that. Its data lives in .azurite/ (git-ignored).
$(AZURITE): devstack/azurite/package.json devstack/azurite/package-lock.json
	@echo "==> Installing Azurite, the local Table storage for the chat history (npm ci, once)..."
	./tools/install-system-packages.sh
	cd devstack/azurite && npm ci --no-audit --no-fund --ignore-scripts
	touch $(AZURITE)

azurite: $(AZURITE)

# --- axe-core (accessibility in the browser tests) --------------------------------------------
# Pinned by tests/browser/axe/package-lock.json; `npm ci` installs exactly that (one package, no
# install scripts, no browser download). The tests install it themselves when it is missing.
$(AXE): tests/browser/axe/package.json tests/browser/axe/package-lock.json
	./tools/install-system-packages.sh
	cd tests/browser/axe && npm ci --no-audit --no-fund --ignore-scripts
	touch $(AXE)
