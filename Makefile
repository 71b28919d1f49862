# egovops — newcomer commands. `make run` for the embedded default, `make test` for the whole suite.
SHELL := /bin/bash
# Debian's own CPython is built with PGO and LTO and runs this code about a third faster than a plain
# source build; use it when it can make virtual environments.
PYTHON ?= $(shell /usr/bin/python3 -c 'import ensurepip, sys; assert sys.version_info >= (3, 11)' \
            2>/dev/null && echo /usr/bin/python3 || echo python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.egovops-installed

.PHONY: setup run components test lint bench clean

setup: $(STAMP)  ## create .venv and install egovops with its pinned dependencies (idempotent)

# The native ingest core (Rust, PyO3) is built by maturin with the machine's cargo; crates from crates.io.
NATIVE := native/Cargo.toml native/Cargo.lock native/pyproject.toml $(shell find native/src -name '*.rs')

$(STAMP): pyproject.toml requirements.lock $(NATIVE)
	@command -v cargo >/dev/null || { echo "make setup: cargo (Rust) is needed to build native/ -" \
	  "install it with rustup (https://rustup.rs) or your distribution's rustc/cargo packages"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps fake-switches==1.5.0  # pins Twisted<17; its needs are in the lock
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip install -q --no-deps ./native
	touch $(STAMP)

run: setup  ## serve the console on 127.0.0.1:8080, SQLite store, ingesting whatever lands in ./var/inbox/
	mkdir -p var/inbox
	$(BIN)/egovops serve

components:  ## install the real components the suite runs against (Debian packages, Elasticsearch zip)
	bash scripts/install-components.sh

test: setup components  ## the whole suite against real components
	$(BIN)/pytest -q -p no:cacheprovider

lint: setup  ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup components  ## benchmarks with the peers' figures side by side (see docs/benchmarks.md)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf var/egovops.db* var/spool .pytest_cache .mypy_cache .ruff_cache
