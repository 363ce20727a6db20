"""The openai generator over real HTTP against fake OpenAI-compatible backends: verified answers,
and timeouts, garbage and a dead backend falling back to the labelled extractive answer."""

from __future__ import annotations

import json

import httpx
import pytest

from api import create_app
from rag.engine import Engine
from tests.api_common import LAVROV_QUOTE, QUESTION, TEXTS
from tests.http_server import FakeChatBackend, assert_citations_verbatim, serve


# The LLM backend: timeouts and garbage fall back to the extractive answer ---------------------


@pytest.fixture
def llm_server(seed_settings, minilm):
    """A factory: a Verbatim server whose ``openai`` generator talks to the given fake backend URL."""

    def start(backend_url: str, timeout_s: float = 2.0):
        settings = seed_settings.model_copy(update={"openai_base_url": backend_url, "llm_timeout_s": timeout_s})
        return serve(create_app(settings, engine=Engine.load(settings, embedder=minilm)))

    return start


def _good_reply(quote: str = LAVROV_QUOTE) -> str:
    return json.dumps(
        {
            "summary": "Lavrov said Jordan coordinates the list [1].",
            "quotes": [{"passage": 1, "text": quote}],
            "refused": False,
        }
    )


def test_openai_generator_answer_is_verified(llm_server):
    backend = FakeChatBackend(reply=_good_reply())
    with serve(backend.app()) as backend_url, llm_server(f"{backend_url}/v1") as url:
        answer = httpx.post(
            f"{url}/ask", json={"question": QUESTION, "generator": "openai"}, timeout=60, trust_env=False
        ).json()
    assert backend.requests == 1
    assert (answer["generator"], answer["fallback"], answer["refused"]) == ("openai", False, False)
    assert [c["quote"] for c in answer["citations"]] == [LAVROV_QUOTE]
    assert answer["answer"].startswith("Lavrov said Jordan coordinates the list [1].")
    assert answer["summary_dropped"] is False
    assert_citations_verbatim(answer["citations"], TEXTS)


@pytest.mark.parametrize(
    ("reply", "delay"),
    [
        ("I cannot help with that, sorry.", 0.0),
        (_good_reply("Lavrov said the list was signed by everyone."), 0.0),
        ("", 3.0),
    ],
    ids=["garbage", "invented-quote", "timeout"],
)
def test_llm_failures_fall_back_to_the_labelled_extractive_answer(llm_server, library_answer, reply, delay):
    backend = FakeChatBackend(reply=reply, delay=delay)
    with serve(backend.app()) as backend_url, llm_server(f"{backend_url}/v1", timeout_s=0.5) as url:
        answer = httpx.post(
            f"{url}/ask", json={"question": QUESTION, "generator": "openai"}, timeout=60, trust_env=False
        ).json()
    assert (answer["generator"], answer["fallback"], answer["refused"]) == ("extractive", True, False)
    assert answer["citations"] == library_answer(QUESTION)["citations"]
    assert "signed by everyone" not in answer["answer"]
    assert backend.requests == 1  # a timeout or a bad answer is not retried
    assert_citations_verbatim(answer["citations"], TEXTS)


def test_llm_backend_down_falls_back(llm_server):
    with serve(FakeChatBackend().app()) as dead_url:
        pass  # the port is free again: nothing listens there
    with llm_server(f"{dead_url}/v1") as url:
        answer = httpx.post(
            f"{url}/ask", json={"question": QUESTION, "generator": "openai"}, timeout=60, trust_env=False
        ).json()
    assert (answer["generator"], answer["fallback"]) == ("extractive", True)
    assert_citations_verbatim(answer["citations"], TEXTS)
