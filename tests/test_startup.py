"""`rag search` and `rag ask` start lean: no torch, web framework, LLM client, tokeniser or eval machinery.

Checked in a fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rag.engine import ingest
from rag.settings import Settings
from tests.conftest import CACHE_DIR, ROOT, SEED

# tiktoken counts tokens for the LLM prompts only: loading its encoding took a quarter of a cold ask.
HEAVY = ("torch", "sentence_transformers", "transformers", "fastapi", "starlette", "uvicorn", "llama_cpp",
         "openai", "onnx", "tiktoken", "rag.evaluation", "rag.local", "api")
# Records how many texts the embedding model ran on, by wrapping the real model's method.
PROBE = """
import json, sys
from rag.cli import main
from rag.embedders.onnx_runtime import OnnxEmbedder
embedded = []
model_embed = OnnxEmbedder.embed
OnnxEmbedder.embed = lambda self, texts: embedded.extend(texts) or model_embed(self, texts)
try:
    main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
heavy = sorted({m for m in sys.modules for h in HEAVY if m == h or m.startswith(h + ".")})
print(json.dumps({"status": status, "heavy": heavy, "embedded": len(embedded)}), file=sys.stderr)
"""
ASK = ["ask", "What did Lavrov say about the terrorist list?"]


def _cold(command: list[str], index_path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VERBATIM_CACHE_DIR": str(CACHE_DIR),
           "VERBATIM_INDEX_PATH": str(index_path)}
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *command],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    assert done.stdout.strip(), done.stderr
    return {**json.loads(done.stderr.strip().splitlines()[-1]), "stdout": done.stdout}


@pytest.fixture(scope="module")
def index_with_sentence_vectors(tmp_path_factory, minilm):
    """The seed transcript ingested as `rag ingest` does it, sentence vectors included."""
    path = tmp_path_factory.mktemp("index") / "seed"
    ingest(Settings(_env_file=None, index_path=path, cache_dir=CACHE_DIR), [SEED], minilm)
    return path


@pytest.fixture(scope="module")
def index_without_sentence_vectors(tmp_path_factory, minilm):
    """The seed transcript ingested with the sentence vectors turned off: answering must embed them.

    Its own index: the session's seed index gets them stored by any test that ingests into it again.
    """
    path = tmp_path_factory.mktemp("index") / "seed"
    ingest(Settings(_env_file=None, index_path=path, cache_dir=CACHE_DIR, sentence_vectors=False), [SEED], minilm)
    return path


@pytest.mark.parametrize("command", [["search", "terrorist list", "--k", "3"], ASK])
def test_search_and_ask_import_nothing_heavy(command, seed_settings, minilm):
    result = _cold(command, seed_settings.index_path)
    assert (result["status"], result["heavy"]) == (0, [])


def test_a_cold_ask_embeds_only_the_question_when_ingest_stored_the_sentence_vectors(
    index_with_sentence_vectors, index_without_sentence_vectors
):
    stored = _cold(ASK, index_with_sentence_vectors)
    assert (stored["status"], stored["heavy"], stored["embedded"]) == (0, [], 1)
    # An index without them is answered the same, embedding its sentences.
    embedding = _cold(ASK, index_without_sentence_vectors)
    assert embedding["status"] == 0 and embedding["embedded"] > 1
    assert stored["stdout"] == embedding["stdout"]
