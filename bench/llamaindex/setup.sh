#!/usr/bin/env bash
# The LlamaIndex comparison's own environment: a venv under .cache/ (git-ignored) with the pinned
# requirements.txt. LlamaIndex is never a Verbatim dependency; the Verbatim side of the comparison
# runs under the project's own .venv (make install). Only PyPI is needed.
#   bench/llamaindex/setup.sh [VENV]      (default: .cache/llamaindex-venv)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$root/.cache/llamaindex-venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
# torch first and alone, pinned: resolving it together with the rest could pick a CUDA build.
"$venv/bin/pip" install --quiet "$(grep '^torch==' "$root/bench/llamaindex/requirements.txt")"
"$venv/bin/pip" install --quiet -r "$root/bench/llamaindex/requirements.txt"
"$venv/bin/python" -c "import torch, llama_index.core, faiss; print('torch', torch.__version__, '| llama-index-core', llama_index.core.__version__, '| faiss', faiss.__version__)"
