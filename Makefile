# ProML developer commands. `make test` sets everything up from a fresh clone, then runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BENCH_DIR := bench-results

# Every distribution of the workspace, in editable mode (docs/architecture.md).
DISTRIBUTIONS := core contracts sdk cli node deploy/devnet
EDITABLE := -e core -e contracts -e 'sdk[sklearn]' -e cli -e node -e deploy/devnet

.PHONY: setup engines test lint typecheck contracts contracts-check bench demo clean

setup: $(VENV)/.installed node_modules/.installed engines

# geth, Kubo and IPFS Cluster, built from their Go modules into a cache outside the work tree
# (deploy/engines/build.sh; $$PROML_ENGINES names the cache). Fast once cached.
engines:
	@bash deploy/engines/build.sh

$(VENV)/.installed: pyproject.toml $(addsuffix /pyproject.toml,$(DISTRIBUTIONS))
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(EDITABLE) --group dev
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

contracts: setup
	$(BIN)/python contracts/build.py

contracts-check: setup
	$(BIN)/python contracts/build.py --check

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/pytest

bench: setup
	mkdir -p $(BENCH_DIR)
	$(BIN)/python -m tests.bench.gas --json $(BENCH_DIR)/gas.json
	$(BIN)/python -m tests.bench.hashing --json $(BENCH_DIR)/hashing.json
	$(BIN)/python -m tests.bench.capture --json $(BENCH_DIR)/capture.json
	$(BIN)/python -m tests.bench.verify_history --json $(BENCH_DIR)/verify_history.json
	$(BIN)/python -m tests.bench.consortium --json $(BENCH_DIR)/consortium.json

# The end-to-end demo on a local consortium; `make demo DEMO_ARGS=--stop` stops it at the end.
demo: setup
	$(BIN)/python docs/examples/demo.py $(DEMO_ARGS)

clean:
	rm -rf $(VENV) node_modules $(BENCH_DIR) build dist
	find . -name '*.egg-info' -not -path './node_modules/*' -prune -exec rm -rf {} +
