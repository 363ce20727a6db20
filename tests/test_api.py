"""The HTTP API over real HTTP: uvicorn on a loopback port, httpx as the client.

Every answer's citations are checked against the original transcript text.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import httpx
import pytest

from api import create_app
from rag.generators.base import Message
from rag.generators.registry import available_generators
from tests.api_common import QUESTION, SEED_TEXT, TEXTS, without_timings
from tests.conftest import SEED_ID
from tests.http_server import assert_citations_verbatim, assert_passages_verbatim, error_of, serve


# Health ---------------------------------------------------------------------------------------


def test_healthz_and_readyz_report_the_loaded_index(client, seed_engine):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "documents": 1,
        "chunks": len(seed_engine.snapshot.index.chunks),
        "generator": "extractive",
        "index_generation": seed_engine.snapshot.index.generation,
    }


def test_readyz_is_503_with_the_reason_when_the_index_is_missing(seed_settings, tmp_path, minilm):
    settings = seed_settings.model_copy(update={"index_path": tmp_path / "nothing-here"})
    with serve(create_app(settings)) as url:
        assert httpx.get(f"{url}/healthz", trust_env=False).json() == {"status": "ok"}
        status, kind, message = error_of(httpx.get(f"{url}/readyz", trust_env=False))
        assert (status, kind) == (503, "NotReady")
        missing = tmp_path / "nothing-here"
        assert message == f"the index is not loaded: IndexNotFound: no index at {missing} (run 'rag ingest' first)"
        status, kind, _ = error_of(httpx.post(f"{url}/ask", json={"question": QUESTION}, trust_env=False))
        assert (status, kind) == (503, "NotReady")


# POST /ask ------------------------------------------------------------------------------------


def test_ask_returns_the_same_answer_object_as_the_cli(client, library_answer):
    response = client.post("/ask", json={"question": QUESTION})
    assert response.status_code == 200
    answer = response.json()
    expected = library_answer(QUESTION)
    assert list(answer) == list(expected)
    assert without_timings(answer) == without_timings(expected)
    assert answer["refused"] is False and answer["fallback"] is False and answer["generator"] == "extractive"
    assert [c["speaker"] for c in answer["citations"]] == ["LAVROV", "LAVROV"]
    assert "[1]" in answer["answer"] and "[2]" in answer["answer"]
    assert answer["timings_ms"]["total"] > 0
    assert_citations_verbatim(answer["citations"], TEXTS)
    assert_passages_verbatim(answer["passages"], TEXTS)


def test_ask_with_a_speaker_only_cites_that_speaker(client, library_answer):
    answer = client.post(
        "/ask", json={"question": "What was said about the terrorist list?", "speaker": "Kerry"}
    ).json()
    assert answer["citations"] and {c["speaker"] for c in answer["citations"]} == {"KERRY"}
    assert without_timings(answer) == without_timings(
        library_answer("What was said about the terrorist list?", speaker="Kerry")
    )
    assert_citations_verbatim(answer["citations"], TEXTS)


def test_ask_follow_up_resolves_it_from_the_history(client, library_answer):
    first = client.post("/ask", json={"question": QUESTION}).json()
    follow_up = "and what did Kerry say about it?"
    alone = client.post("/ask", json={"question": follow_up}).json()
    assert alone["refused"] is True
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": first["answer"]}]
    answer = client.post("/ask", json={"question": follow_up, "history": history}).json()
    assert answer["refused"] is False
    assert {c["speaker"] for c in answer["citations"]} == {"KERRY"}
    messages = [Message("user", QUESTION), Message("assistant", first["answer"])]
    assert without_timings(answer) == without_timings(library_answer(follow_up, history=messages))
    assert_citations_verbatim(answer["citations"], TEXTS)


def test_ask_refuses_a_speaker_who_never_speaks(client):
    answer = client.post("/ask", json={"question": "What did Obama say about Syria?"}).json()
    assert answer["refused"] is True and answer["citations"] == []
    assert (
        answer["refusal_reason"]
        == answer["answer"]
        == ("Obama does not speak in this transcript (speakers: Lavrov, Kerry, Moderator).")
    )


@pytest.mark.parametrize(
    ("body", "status", "kind", "message"),
    [
        ({"question": ""}, 422, "QuestionError", "the question is empty"),
        ({"question": "   \n "}, 422, "QuestionError", "the question is empty"),
        ({"question": "why? " * 201}, 422, "QuestionError", "the question is 1005 characters long; the limit is 1000"),
        ({"question": QUESTION, "document": "nope"}, 404, "UnknownDocument", "no document 'nope' in the index"),
        ({"question": QUESTION, "k": 0}, 422, "InvalidRequest", "body.k: Input should be greater than or equal to 1"),
        ({"question": QUESTION, "colour": "red"}, 422, "InvalidRequest", "body.colour: Extra inputs are not permitted"),
        ({"k": 3}, 422, "InvalidRequest", "body.question: Field required"),
        (
            {"question": QUESTION, "history": [{"role": "system", "content": "x"}]},
            422,
            "InvalidRequest",
            "body.history.0.role: Input should be 'user' or 'assistant'",
        ),
    ],
)
def test_ask_bad_input_is_a_json_error(client, body, status, kind, message):
    assert error_of(client.post("/ask", json=body)) == (status, kind, message)


def test_ask_with_a_generator_that_is_not_configured(client, seed_settings):
    available = ", ".join(available_generators(seed_settings))  # "local" too, where its model is installed
    assert error_of(client.post("/ask", json={"question": QUESTION, "generator": "openai"})) == (
        422,
        "GeneratorUnavailable",
        f"the 'openai' generator is not configured on this service; available: {available}",
    )


def test_ask_bad_json_wrong_content_type_and_missing_body(client):
    bad_json = client.post("/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert error_of(bad_json) == (
        400,
        "InvalidJSON",
        "the request body is not valid JSON: Expecting value (at character 13)",
    )
    as_text = client.post("/ask", content=json.dumps({"question": QUESTION}), headers={"Content-Type": "text/plain"})
    assert error_of(as_text) == (
        415, "UnsupportedMediaType", "expected Content-Type: application/json, got 'text/plain'"
    )
    empty = client.post("/ask", headers={"Content-Type": "application/json"})
    assert error_of(empty) == (422, "InvalidRequest", "the request body is missing (send a JSON object)")


def test_request_bodies_over_the_limit_are_413_with_or_without_content_length(client):
    big = json.dumps({"question": "x" * 70_000}).encode()
    expected = (413, "PayloadTooLarge", "the request body is larger than the limit of 65536 bytes")
    assert error_of(client.post("/ask", content=big, headers={"Content-Type": "application/json"})) == expected

    def chunked():
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    response = client.post("/ask", content=chunked(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert error_of(response) == expected


def test_unknown_routes_and_methods_are_json_errors(client):
    assert error_of(client.get("/nope")) == (404, "NotFound", "no route for GET /nope")
    assert error_of(client.delete("/healthz")) == (405, "MethodNotAllowed", "DELETE is not allowed on /healthz")


# GET /search ----------------------------------------------------------------------------------


def test_search_ranks_passages_with_speaker_turn_offsets_and_score(client, seed_engine):
    response = client.get("/search", params={"q": "terrorist list", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "terrorist list" and body["k"] == 3 and len(body["passages"]) == 3
    first = body["passages"][0]
    assert (first["speaker"], first["turn"], first["char_start"], first["char_end"]) == ("LAVROV", 5, 13694, 14721)
    scores = [p["score"] for p in body["passages"]]
    assert scores == sorted(scores, reverse=True)
    assert_passages_verbatim(body["passages"], TEXTS)
    kerry = client.get("/search", params={"q": "terrorist list", "speaker": "kerry", "document": SEED_ID}).json()
    assert kerry["passages"] and {p["speaker"] for p in kerry["passages"]} == {"KERRY"}


def test_search_errors(client):
    assert error_of(client.get("/search", params={"q": " "})) == (422, "QuestionError", "the question is empty")
    assert error_of(client.get("/search")) == (422, "InvalidRequest", "query.q: Field required")
    assert error_of(client.get("/search", params={"q": "x", "k": 101})) == (
        422,
        "InvalidRequest",
        "query.k: Input should be less than or equal to 100",
    )
    assert error_of(client.get("/search", params={"q": "x", "document": "nope"})) == (
        404,
        "UnknownDocument",
        "no document 'nope' in the index",
    )


# Documents and speakers -----------------------------------------------------------------------


def test_documents_list_and_detail(client, seed_engine):
    [listed] = client.get("/documents").json()["documents"]
    record = asdict(seed_engine.snapshot.index.records[SEED_ID])
    # The voices are the index's own bookkeeping; "speakers" says who speaks.
    assert record.pop("voices") == (("LAVROV", "FOREIGN MINISTER LAVROV", 3), ("KERRY", "SECRETARY KERRY", 4),
                                    ("MODERATOR", "MODERATOR", 1), ("QUESTION", "QUESTION", 2))
    assert listed == {**record, "date": "2015-12-15", "speakers": ["LAVROV", "KERRY", "MODERATOR"]}
    assert listed["source"] == "kerry-lavrov-moscow-2015-12-15.txt"  # a file name, never a server path
    detail = client.get(f"/documents/{SEED_ID}").json()
    assert detail["text"] == SEED_TEXT
    assert [t["speaker"] for t in detail["turns"]][:3] == ["LAVROV", "KERRY", "MODERATOR"]
    for turn in detail["turns"]:
        assert SEED_TEXT[turn["char_start"] : turn["char_end"]] == turn["text"]
    assert error_of(client.get("/documents/nope")) == (404, "UnknownDocument", "no document 'nope' in the index")


def test_context_shows_the_quote_in_its_passage(client):
    citations = client.post("/ask", json={"question": QUESTION}).json()["citations"]
    for citation in citations:
        params = {"start": citation["char_start"], "end": citation["char_end"]}
        context = client.get(f"/documents/{SEED_ID}/context", params=params).json()
        assert set(context) == {"document", "turn", "speaker", "label", "text", "offset"}
        assert (context["document"], context["turn"], context["speaker"], context["label"]) == (
            SEED_ID,
            citation["turn"],
            "LAVROV",
            "FOREIGN MINISTER LAVROV",
        )
        start, end, offset = citation["char_start"], citation["char_end"], context["offset"]
        assert context["text"][start - offset : end - offset] == citation["quote"]
        assert SEED_TEXT[offset : offset + len(context["text"])] == context["text"]
        assert len(context["text"]) > len(citation["quote"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"start": 20, "end": 10},
            f"start=20, end=10 is not a range inside '{SEED_ID}' (0 <= start < end <= {len(SEED_TEXT)})",
        ),
        (
            {"start": 0, "end": len(SEED_TEXT) + 1},
            (
                f"start=0, end={len(SEED_TEXT) + 1} is not a range inside '{SEED_ID}' "
                f"(0 <= start < end <= {len(SEED_TEXT)})"
            ),
        ),
        (
            {"start": 16000, "end": 16400},
            f"start=16000, end=16400 does not fall inside the spoken text of one turn of '{SEED_ID}'",
        ),
    ],
)
def test_context_refuses_bad_ranges(client, params, message):
    assert error_of(client.get(f"/documents/{SEED_ID}/context", params=params)) == (422, "InvalidRange", message)


def test_speakers(client):
    speakers = client.get("/speakers").json()["speakers"]
    assert [(s["speaker"], s["labels"], s["documents"]) for s in speakers] == [
        ("LAVROV", ["FOREIGN MINISTER LAVROV"], [SEED_ID]),
        ("KERRY", ["SECRETARY KERRY"], [SEED_ID]),
        ("MODERATOR", ["MODERATOR"], [SEED_ID]),
        ("QUESTION", ["QUESTION"], [SEED_ID]),
    ]
    assert sum(s["turns"] for s in speakers) == 10
    assert client.get("/speakers", params={"document": SEED_ID}).json()["speakers"] == speakers




# The demo page and the schema -----------------------------------------------------------------


def test_the_demo_page_embeds_the_widget_with_one_tag(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="/widget.js" data-title="Ask the transcript" defer></script>' in page.text
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert 'attachShadow({ mode: "open" })' in script.text and "/ask/stream" in script.text


def test_openapi_documents_every_route_and_types_every_error(client):
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/",
        "/widget.js",
        "/healthz",
        "/readyz",
        "/metrics",
        "/ask",
        "/ask/stream",
        "/search",
        "/documents",
        "/documents/{document_id}",
        "/documents/{document_id}/context",
        "/speakers",
        "/jobs/{job_id}",
        "/v1/models",
        "/v1/chat/completions",
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorResponse", (path, method, status)
    ask = schema["paths"]["/ask"]["post"]
    assert (
        ask["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/AnswerPublic"
    )
    upload = schema["paths"]["/documents"]["post"]["requestBody"]["content"]
    assert upload["application/json"]["schema"]["$ref"] == "#/components/schemas/DocumentIn"
    assert "TurnIn" in schema["components"]["schemas"]
