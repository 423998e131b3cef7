# Everything a fresh machine needs is installed from here: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo web-demo scale-demo bench-scale test system-deps lint typecheck unit bench record record-live clean bench-stream

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fortnox-connector demo

# The operator's web app on a local sandbox with demo tenants, until Ctrl-C.
web-demo: $(STAMP)
	$(BIN)/fortnox-connector web --demo --listen 127.0.0.1:8080

# One night of 100 tenants on two Temporal workers, state in PostgreSQL; starts and stops everything itself.
scale-demo: $(STAMP) system-deps
	$(BIN)/fortnox-connector temporal scale-demo

# Debian packages the tests need (Chromium for the browser tests), installed when missing.
system-deps:
	bash .ci/system-deps

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) system-deps
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

# Fortnox's WebSocket feed: latency booked -> sink, throughput, requests per payment (docs/bench.md "Stream").
bench-scale: $(STAMP) system-deps
	$(BIN)/python -m bench.scale

bench-stream: $(STAMP)
	$(BIN)/python -m bench.stream
