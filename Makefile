# phoenix.immutable developer tasks. GNU make; needs Python >= 3.11 and git, nothing else.
# `make help` lists the targets. Every target that needs tools depends on `venv`, which creates
# .venv from requirements-dev.txt on first use and does nothing while that file is unchanged.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.requirements-dev.stamp
BUILD := $(CURDIR)/.build
COLLECTION := $(BUILD)/ansible_collections/phoenix/immutable
DIST := $(BUILD)/dist
LINT_PATHS := $(wildcard plugins tests tools benchmarks)
SANITY_PYTHON := 3.11
PYTEST_ARGS ?=

# The venv's tools first (ansible-lint and the tests run ansible-playbook, ansible-galaxy, ... by name).
export PATH := $(BIN):$(PATH)

.PHONY: help venv system-packages demo bench test lint format changelog-lint sanity ansible-lint pytest unit integration build clean distclean

help: ## List the targets
	@echo "Usage: make TARGET   (PYTHON=$(PYTHON) creates .venv; Python >= 3.11)"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv with the pinned tools of requirements-dev.txt (fast when nothing changed)

$(STAMP): requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: phoenix.immutable needs Python >= 3.11 to develop and test; '$(PYTHON)' is" \
	       "$$(command -v $(PYTHON) >/dev/null && $(PYTHON) --version 2>&1 || echo 'not found'). Run: make $(MAKECMDGOALS) PYTHON=python3.11" >&2; \
	  exit 1; }
	@if [ ! -x $(BIN)/python ]; then echo "Creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); fi
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: $(VENV) runs $$($(BIN)/python --version 2>&1); remove it (make distclean) and retry" >&2; exit 1; }
	@echo "Installing requirements-dev.txt into $(VENV)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# The dpkg packages of bindep.txt (OpenSCAP for the compliance tests), installed with apt-get when they are
# missing and this runs as root on a machine with apt-get; otherwise it says what is missing and which tests
# will skip. It never fails the build: those tests skip, naming bindep.txt, without the packages.
BINDEP_DPKG := $(shell awk '/^[a-z0-9]/ && /platform:dpkg/ {print $$1}' bindep.txt)

system-packages: ## Install bindep.txt's dpkg packages if missing (root + apt-get), else say what will skip
	@missing=""; for package in $(BINDEP_DPKG); do \
	  dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$package"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing the system packages of bindep.txt:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null \
	    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; } \
	    || echo "warning: could not install$$missing; the OpenSCAP tests will skip (see bindep.txt)" >&2; \
	else \
	  echo "note: missing system packages$$missing (bindep.txt) and no root with apt-get to install them:" \
	       "the OpenSCAP tests will skip. Install them with your package manager to run them." >&2; \
	fi

demo: venv ## Run the golden-image workflow against local AWS, GCP and Azure emulators
	$(BIN)/python tools/demo.py

bench: venv ## Benchmarks: cloud API calls and seconds per scenario (benchmarks/results/)
	@for bench in benchmarks/bench_*.py; do echo "== $$bench"; $(BIN)/python $$bench; done

# Stops at the first failing step; pytest runs last so that its summary is the final line.
test: venv system-packages ## lint, sanity, ansible-lint, then pytest
	$(MAKE) lint
	$(MAKE) sanity
	$(MAKE) ansible-lint
	$(MAKE) pytest

lint: venv ## ruff check and ruff format --check
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: venv ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

# make sanity runs the same check (ansible-test's changelog test); this is the quick way.
changelog-lint: venv ## Check the changelog fragments
	$(BIN)/antsibull-changelog lint

# ansible-test needs the ansible_collections/phoenix/immutable layout and a real directory (it uses the
# physical cwd, so a symlink does not do), hence a fresh copy of what git would commit. --venv runs it
# in a virtual environment of its own and, as always, each sanity tool in its own virtual environment
# under ~/.ansible/test/venv, created on the first run and reused after; no container. Each one gets pip
# from a bootstrap script that prime_ansible_test.py provides (the one ansible-test would download is
# out of reach).
sanity: venv ## ansible-test sanity on a fresh copy in .build/ (no Docker)
	$(BIN)/python tools/prime_ansible_test.py
	$(BIN)/python tools/stage_collection.py $(BUILD)
	cd $(COLLECTION) && $(BIN)/ansible-test sanity --venv --python $(SANITY_PYTHON)

# Offline, ansible-lint does not install the collection it lints, so the FQCNs in playbooks/ would not
# resolve. It gets a symlink to this work tree under .build/collections as its collections path (the
# collection loader, unlike ansible-test, follows symlinks), replacing the configured paths, so no copy
# of phoenix.immutable installed in ~/.ansible/collections is picked up instead.
ansible-lint: venv ## ansible-lint, production profile, offline (.ansible-lint)
	mkdir -p $(BUILD)/collections/ansible_collections/phoenix
	ln -sfn $(CURDIR) $(BUILD)/collections/ansible_collections/phoenix/immutable
	ANSIBLE_COLLECTIONS_PATH=$(BUILD)/collections $(BIN)/ansible-lint --profile production

# pytest exits 5 when it collects no test; make counts any non-zero exit as a failure, and that is
# intended: a test run that ran no test must not pass.
pytest: venv system-packages ## Every unit and integration test (2 workers)
	$(BIN)/pytest tests -n 2 -p no:cacheprovider --strict-markers $(PYTEST_ARGS)

unit: venv ## Unit tests only
	$(BIN)/pytest tests/unit -n 2 -p no:cacheprovider --strict-markers $(PYTEST_ARGS)

integration: venv system-packages ## Integration tests only
	$(BIN)/pytest tests/integration -n 2 -p no:cacheprovider --strict-markers $(PYTEST_ARGS)

build: venv ## Build the collection tarball into .build/dist
	$(BIN)/ansible-galaxy collection build --force --output-path $(DIST) .

clean: ## Remove build output and caches (keeps .venv)
	rm -rf $(BUILD) tests/output .pytest_cache .ruff_cache .hypothesis .ansible
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean ## clean, and remove .venv
	rm -rf $(VENV)
