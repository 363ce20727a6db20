"""The openai generator against a real OpenAI-compatible server: llama.cpp's, started here.

The model is Qwen2.5-Coder-0.5B-Instruct, assembled from its PyPI part packages. It is small
and quotes poorly; what these tests hold is that whatever it says, only verified quotations
reach the answer, and that a dead or garbled backend degrades to a labelled extractive answer.
"""

from __future__ import annotations

import json

import pytest

from rag.engine import Engine
from rag.local.gguf import assemble_gguf
from rag.generators.llm import ANSWER_SCHEMA, OpenAIChat
from rag.settings import Settings
from tests.conftest import ROOT, SEED
from rag.local.llama_server import run_llama_server
from rag.local.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def llama_url():
    pytest.importorskip("llama_cpp", reason="the 'local' extra (llama-cpp-python) is not installed")
    model = assemble_gguf("qwen2.5-coder-0.5b-instruct", ROOT / ".cache" / "models")
    with run_llama_server(model, n_ctx=4096) as url:
        yield url


@pytest.fixture(scope="module")
def openai_engine(llama_url, seed_index_path, minilm):
    settings = Settings(
        index_path=seed_index_path, generator="openai", openai_base_url=llama_url, top_k=3, llm_max_tokens=200,
        llm_timeout_s=300,
    )
    return Engine.load(settings, embedder=minilm)


def test_structured_output_follows_the_answer_schema(llama_url):
    chat = OpenAIChat(llama_url, "local", "not-needed", timeout_s=300)
    reply = chat.complete(
        [{"role": "user", "content": "Passage [1] KERRY: We will meet on Friday in New York.\n"
                                     "Question: When will they meet? Answer in JSON."}],
        ANSWER_SCHEMA,
        max_tokens=120,
    )
    data = json.loads(reply)
    assert set(data) == {"summary", "quotes", "refused"}
    assert all(set(q) == {"passage", "text"} for q in data["quotes"])


@pytest.mark.parametrize(
    "question",
    ["What did Lavrov say about the terrorist list?", "What did Kerry say about regime change in Syria?"],
)
def test_only_verified_quotations_reach_the_answer(openai_engine, question):
    answer = openai_engine.snapshot.answerer.answer(
        question, openai_engine.generator("openai"), openai_engine.options(),
        fallback=openai_engine.generator("extractive"),
    )
    assert "generation_openai" in answer.timings_ms
    assert answer.generator == ("extractive" if answer.fallback else "openai")
    assert not answer.refused
    text = SEED.read_text(encoding="utf-8")
    for citation in answer.citations:
        assert text[citation.char_start : citation.char_end] == citation.quote
        assert f"[{citation.id}]" in answer.answer
    asked = "LAVROV" if "Lavrov" in question else "KERRY"
    assert {c.speaker for c in answer.citations} == {asked}


def test_a_dead_backend_falls_back_to_a_labelled_extractive_answer(seed_index_path, minilm):
    settings = Settings(
        index_path=seed_index_path, generator="openai", openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
        llm_timeout_s=5,
    )
    engine = Engine.load(settings, embedder=minilm)
    answer = engine.snapshot.answerer.answer(
        "What did Lavrov say about the terrorist list?", engine.generator("openai"), engine.options(),
        fallback=engine.generator("extractive"),
    )
    assert answer.fallback is True
    assert answer.generator == "extractive"
    assert answer.citations
