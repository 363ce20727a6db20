#!/usr/bin/env bash
# The README's `make run` on a machine with nothing but Python: a fresh venv in the folder given,
# the core install only (no extras, not editable, so only what the package declares and ships),
# then .ci/smoke_run.py from that folder, away from the checkout.
#   usage: .ci/clean_run.sh EMPTY_FOLDER     (leaves the venv in EMPTY_FOLDER/venv)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(cd "$1" && pwd)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --upgrade pip
# Pinned first, as in the Makefile: a loose torch requirement would pull a multi-GB CUDA build.
"$work/venv/bin/pip" install --quiet torch==2.13.0
"$work/venv/bin/pip" install --quiet "$repo"
cd "$work"
# As `make setup` does: the ONNX exports the default embedder runs, into ./.cache/embedders.
"$work/venv/bin/rag" export-embedder
"$work/venv/bin/python" "$repo/.ci/smoke_run.py" "$repo/data/transcripts"
