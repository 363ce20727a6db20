"""``POST /ask/stream`` over real HTTP, parsed event by event."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from api import create_app
from api.streaming import error_payload, text_pieces
from rag.engine import Engine
from rag.errors import BackendUnavailable
from tests.api_common import without_timings
from tests.conftest import SEED, SEED_ID
from tests.http_server import FakeChatBackend, assert_citations_verbatim, serve

QUESTION = "What did Lavrov say about the terrorist list?"
TEXTS = {SEED_ID: SEED.read_bytes().decode("utf-8")}


def read_events(response: httpx.Response) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a Server-Sent Events response, comments and pings skipped."""
    events, name, data = [], "message", []
    for line in response.iter_lines():
        if not line:
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    if data:
        events.append((name, json.loads("\n".join(data))))
    return events


@pytest.fixture(scope="module")
def client(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 100_000})
    with (
        serve(create_app(settings, engine=seed_engine)) as url,
        httpx.Client(base_url=url, timeout=60, trust_env=False) as client,
    ):
        yield client


def stream(client: httpx.Client, body: dict) -> tuple[httpx.Response, list[tuple[str, dict]]]:
    with client.stream("POST", "/ask/stream", json=body) as response:
        if response.status_code != 200:
            response.read()
            return response, []
        return response, read_events(response)



def test_stream_sends_tokens_then_citations_then_the_answer(client):
    response, events = stream(client, {"question": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    names = [name for name, _ in events]
    tokens = names.count("token")
    citations = names.count("citation")
    assert tokens > 5 and citations == 2
    assert names == ["token"] * tokens + ["citation"] * citations + ["answer"]
    answer = events[-1][1]
    assert "".join(data["text"] for name, data in events if name == "token") == answer["answer"]
    assert [data for name, data in events if name == "citation"] == answer["citations"]
    assert_citations_verbatim(answer["citations"], TEXTS)
    assert without_timings(answer) == without_timings(client.post("/ask", json={"question": QUESTION}).json())


def test_stream_refusal_has_no_citation_events(client):
    _, events = stream(client, {"question": "What did Obama say about Syria?"})
    names = [name for name, _ in events]
    assert "citation" not in names and names[-1] == "answer"
    answer = events[-1][1]
    assert answer["refused"] is True
    assert (
        "".join(data["text"] for name, data in events if name == "token")
        == answer["answer"]
        == ("Obama does not speak in this transcript (speakers: Lavrov, Kerry, Moderator).")
    )


def test_stream_follow_up_uses_the_history(client):
    first = client.post("/ask", json={"question": QUESTION}).json()
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": first["answer"]}]
    _, events = stream(client, {"question": "and what did Kerry say about it?", "history": history})
    answer = events[-1][1]
    assert answer["refused"] is False and {c["speaker"] for c in answer["citations"]} == {"KERRY"}
    assert [data for name, data in events if name == "citation"] == answer["citations"]
    assert_citations_verbatim(answer["citations"], TEXTS)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"question": ""}, 422, {"type": "QuestionError", "message": "the question is empty"}),
        (
            {"question": QUESTION, "document": "nope"},
            404,
            {"type": "UnknownDocument", "message": "no document 'nope' in the index"},
        ),
    ],
)
def test_bad_input_is_refused_before_the_stream_starts(client, body, status, error):
    response, events = stream(client, body)
    assert (response.status_code, response.headers["content-type"], events) == (status, "application/json", [])
    assert response.json() == {"error": error}


def test_a_client_that_disconnects_stops_the_work(seed_settings, minilm):
    """The LLM call in flight finishes, but nothing after it runs: no verification, no fallback, no answer."""
    backend = FakeChatBackend(reply="not even JSON", delay=1.5)
    with serve(backend.app()) as backend_url:
        settings = seed_settings.model_copy(update={"openai_base_url": f"{backend_url}/v1", "generator": "openai"})
        with (
            serve(create_app(settings, engine=Engine.load(settings, embedder=minilm))) as url,
            httpx.Client(base_url=url, timeout=30, trust_env=False) as client,
        ):
            with client.stream("POST", "/ask/stream", json={"question": QUESTION}) as response:
                assert response.status_code == 200
                deadline = time.monotonic() + 10
                while backend.requests == 0 and time.monotonic() < deadline:
                    time.sleep(0.02)
            # Disconnected while the LLM call is in flight; wait past the backend's reply,
            # whose garbage would otherwise trigger the extractive fallback.
            time.sleep(2.0)
            metrics = client.get("/metrics").text.splitlines()
    assert backend.requests == 1
    assert "verbatim_streams_cancelled_total 1" in metrics
    assert not [line for line in metrics if line.startswith("verbatim_answers_total{")]


def test_error_events_name_our_errors_and_hide_the_others():
    assert error_payload(BackendUnavailable("the LLM backend is unreachable")) == {
        "error": {"type": "BackendUnavailable", "message": "the LLM backend is unreachable"}
    }
    assert error_payload(RuntimeError("secret path /srv/x")) == {
        "error": {"type": "InternalError", "message": "internal server error"}
    }
    text = "Lavrov: “This process applies…” [1]\nKerry:  two  spaces [2]"
    assert "".join(text_pieces(text)) == text
