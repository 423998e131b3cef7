# Everything a fresh machine needs is installed from here: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench record record-live clean postgresql

# The PostgreSQL store's tests start a throwaway server from Debian's binaries (initdb, pg_ctl).
PG_CTL := $(firstword $(shell command -v pg_ctl) $(wildcard /usr/lib/postgresql/*/bin/pg_ctl))
postgresql:
ifeq ($(PG_CTL),)
	@if [ "$$(id -u)" = 0 ]; then \
		echo "installing PostgreSQL (the store tests start a throwaway server)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "PostgreSQL is missing; run: sudo apt-get install -y postgresql"; exit 1; \
	fi
endif

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fortnox-connector demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) postgresql
	$(BIN)/pytest -q --block-network --record-mode=none

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench

# Re-record every cassette against the in-process sandbox.
record: $(STAMP)
	$(BIN)/pytest -q --record-mode=rewrite -m vcr

# Re-record against the real Fortnox; credentials come from the environment (see README).
record-live: $(STAMP)
	FORTNOX_LIVE=1 $(BIN)/pytest -q --record-mode=rewrite -m vcr

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
