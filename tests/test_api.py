"""The HTTP API over real HTTP: uvicorn on a loopback port, httpx as the client.

Every answer's citations are checked against the original transcript text.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import httpx
import pytest
from pydantic import SecretStr

from api import create_app
from rag.generators.registry import available_generators
from rag.engine import Engine
from rag.generators.base import Message
from rag.answering.output import answer_to_dict
from tests.conftest import ROOT, SEED, SEED_ID
from tests.http_server import (
    FakeChatBackend,
    assert_citations_verbatim,
    assert_passages_verbatim,
    error_of,
    serve,
    serve_index_copy,
)

QUESTION = "What did Lavrov say about the terrorist list?"
ALLOWED_ORIGIN = "http://allowed.example"
KEY = "s3cret-test-key"
SEED_TEXT = SEED.read_bytes().decode("utf-8")
TEXTS = {SEED_ID: SEED_TEXT}
LAVROV_QUOTE = (
    "This process applies to the terrorist list that is coordinated by Jordan, and our colleagues from Jordan have "
    "already gathered the information and asked for this information from all the ISSG members."
)


def _without_timings(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "timings_ms"}


@pytest.fixture(scope="module")
def server(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 100_000, "cors_origins": [ALLOWED_ORIGIN]})
    with serve(create_app(settings, engine=seed_engine)) as url:
        yield url


@pytest.fixture
def library_answer(seed_engine):
    """What the library itself answers, as ``rag ask --json`` prints it."""

    def answer(question: str, history=(), **options) -> dict:
        engine = seed_engine
        result = engine.snapshot.answerer.answer(
            question, engine.generator("extractive"), engine.options(**options), history=history
        )
        return answer_to_dict(result)

    return answer


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
    assert _without_timings(answer) == _without_timings(expected)
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
    assert _without_timings(answer) == _without_timings(
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
    assert _without_timings(answer) == _without_timings(library_answer(follow_up, history=messages))
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


# CORS and origins -----------------------------------------------------------------------------


def test_allowed_foreign_and_same_origins(client, server):
    allowed = client.post("/ask", json={"question": QUESTION}, headers={"Origin": ALLOWED_ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    preflight = client.options(
        "/ask/stream",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    same = client.get("/speakers", headers={"Origin": server})
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    refused = (
        403,
        "OriginNotAllowed",
        "requests from origin 'http://evil.example' are not allowed (configure VERBATIM_CORS_ORIGINS)",
    )
    assert (
        error_of(client.post("/ask", json={"question": QUESTION}, headers={"Origin": "http://evil.example"})) == refused
    )
    assert (
        error_of(
            client.options(
                "/ask",
                headers={
                    "Origin": "http://evil.example",
                    "Access-Control-Request-Method": "POST",
                },
            )
        )
        == refused
    )
    assert client.get("/widget.js", headers={"Origin": "http://evil.example"}).status_code == 200


# Rate limit and metrics -----------------------------------------------------------------------


def test_rate_limit_is_per_client_with_retry_after(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 2})
    with serve(create_app(settings, engine=seed_engine)) as url, httpx.Client(base_url=url, trust_env=False) as client:
        assert client.get("/speakers").status_code == 200
        assert client.get("/speakers").status_code == 200
        limited = client.get("/speakers")
        assert error_of(limited) == (429, "RateLimited", "too many requests: the limit is 2 per minute; retry in 30 s")
        assert limited.headers["retry-after"] == "30"
        assert client.get("/healthz").status_code == 200  # health checks are never limited
        assert "verbatim_rate_limited_total 1" in client.get("/metrics").text


def test_metrics_count_requests_answers_and_refusals(seed_settings, seed_engine):
    with (
        serve(create_app(seed_settings, engine=seed_engine)) as url,
        httpx.Client(base_url=url, timeout=60, trust_env=False) as client,
    ):
        client.post("/ask", json={"question": QUESTION})
        client.post("/ask", json={"question": "What did Obama say about Syria?"})
        client.post("/ask", json={"question": ""})
        client.get("/search", params={"q": "Syria"})
        client.get("/documents/nope")
        response = client.get("/metrics")
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    lines = set(response.text.splitlines())
    for line in [
        'verbatim_http_requests_total{method="POST",route="/ask",status="200"} 2',
        'verbatim_http_requests_total{method="POST",route="/ask",status="422"} 1',
        'verbatim_http_requests_total{method="GET",route="/search",status="200"} 1',
        'verbatim_http_requests_total{method="GET",route="/documents/{document_id}",status="404"} 1',
        'verbatim_http_request_duration_seconds_count{method="POST",route="/ask"} 3',
        'verbatim_http_request_duration_seconds_bucket{method="POST",route="/ask",le="+Inf"} 3',
        'verbatim_answers_total{fallback="false",generator="extractive"} 2',
        'verbatim_refusals_total{generator="extractive"} 1',
        "# TYPE verbatim_http_request_duration_seconds histogram",
        "# TYPE verbatim_quotes_dropped_total counter",
        "# TYPE verbatim_summaries_dropped_total counter",
    ]:
        assert line in lines, line


# Uploads and deletes --------------------------------------------------------------------------

TURNS = [
    {"speaker": "CHAIR", "text": "The committee will now hear from the harbour master about the new pier."},
    {
        "speaker": "HARBOUR MASTER",
        "text": "The new pier will open in May. It was paid for by the port authority alone.",
    },
    {"speaker": "CHAIR", "text": "Thank you. Questions from members?"},
]


@pytest.fixture
def writable(tmp_path, seed_index_path, seed_settings, minilm):
    """A server over a private copy of the seed index, with an API key."""
    index_path = tmp_path / "index"
    settings = seed_settings.model_copy(update={"api_key": SecretStr(KEY), "max_upload_bytes": 4096})
    with serve_index_copy(seed_index_path, index_path, settings, minilm) as client:
        yield client, index_path


def test_uploads_need_the_key(writable):
    client, _ = writable
    body = {"id": "harbour", "turns": TURNS}
    assert error_of(client.post("/documents", json=body)) == (
        401,
        "MissingApiKey",
        "this endpoint needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
    )
    wrong = client.post("/documents", json=body, headers={"Authorization": "Bearer nope"})
    assert error_of(wrong) == (401, "InvalidApiKey", "the API key is not valid")
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert error_of(client.delete(f"/documents/{SEED_ID}", headers={"X-API-Key": "nope"}))[:2] == (401, "InvalidApiKey")
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == [SEED_ID]


def test_uploads_are_disabled_without_a_configured_key(client):
    assert error_of(client.post("/documents", json={"id": "x", "text": "A: b"})) == (
        403,
        "WritesDisabled",
        "uploads and deletes are disabled: the service has no API key (VERBATIM_API_KEY)",
    )


def test_upload_json_turns_then_ask_then_delete(writable):
    client, _ = writable
    auth = {"Authorization": f"Bearer {KEY}"}
    created = client.post("/documents", json={"id": "harbour", "turns": TURNS}, headers=auth)
    assert created.status_code == 201
    result = created.json()
    assert result["status"] == "added"
    assert {k: result["document"][k] for k in ("id", "source", "turns", "speakers")} == {
        "id": "harbour",
        "source": "upload:harbour",
        "turns": 3,
        "speakers": ["CHAIR", "HARBOUR MASTER"],
    }
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == ["harbour", SEED_ID]
    text = client.get("/documents/harbour").json()["text"]
    assert "HARBOUR MASTER: The new pier will open in May." in text

    question = {"question": "Who paid for the new pier?", "document": "harbour", "speaker": "harbour master"}
    answer = client.post("/ask", json=question).json()
    assert answer["refused"] is False
    assert {c["speaker"] for c in answer["citations"]} == {"HARBOUR MASTER"}
    assert all(c["quote"] in TURNS[1]["text"] for c in answer["citations"])
    assert_citations_verbatim(answer["citations"], {"harbour": text})

    again = client.post("/documents", json={"id": "harbour", "turns": TURNS}, headers={"X-API-Key": KEY})
    assert (again.status_code, again.json()["status"]) == (201, "unchanged")

    assert client.delete("/documents/harbour", headers=auth).status_code == 204
    assert error_of(client.get("/documents/harbour")) == (404, "UnknownDocument", "no document 'harbour' in the index")
    assert error_of(client.delete("/documents/harbour", headers=auth)) == (
        404,
        "UnknownDocument",
        "no document 'harbour' in the index",
    )
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == [SEED_ID]


def test_upload_plain_text_and_replace_it(writable):
    client, _ = writable
    auth = {"X-API-Key": KEY}
    first = "CHAIR: The meeting is open.\nCLERK: The minutes were approved on Monday.\n"
    response = client.post(
        "/documents",
        params={"id": "minutes"},
        content=first.encode(),
        headers={**auth, "Content-Type": "text/plain; charset=utf-8"},
    )
    assert (response.status_code, response.json()["status"]) == (201, "added")
    assert client.get("/documents/minutes").json()["text"] == first
    second = first + "CHAIR: The meeting is closed.\n"
    response = client.post(
        "/documents", params={"id": "minutes"}, content=second.encode(), headers={**auth, "Content-Type": "text/plain"}
    )
    assert (response.status_code, response.json()["status"], response.json()["document"]["turns"]) == (
        201,
        "replaced",
        3,
    )


def test_upload_captions_and_diarized_json_then_cite_with_recording_times(writable):
    client, _ = writable
    auth = {"X-API-Key": KEY}
    real = ROOT.parent / "shared" / "datasets" / "real-formats"
    teams = (real / "whitehouse-2023-06-13-teams.vtt").read_bytes()
    response = client.post(
        "/documents", params={"id": "juneteenth-vtt"}, content=teams, headers={**auth, "Content-Type": "text/vtt"}
    )
    assert (response.status_code, response.json()["document"]["format"]) == (201, "vtt")
    asr = (real / "whitehouse-2023-06-13-whisperx.json").read_bytes()
    response = client.post(
        "/documents", params={"id": "juneteenth-asr", "format": "json"}, content=asr,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["document"]["speakers"]) == (201, ["SPEAKER_00", "SPEAKER_01"])
    answer = client.post(
        "/ask", json={"question": "What was said about the Juneteenth concert?", "document": "juneteenth-vtt"}
    ).json()
    assert answer["citations"]
    stored = client.get("/documents/juneteenth-vtt").json()["text"]
    for citation in answer["citations"]:
        assert stored[citation["char_start"] : citation["char_end"]] == citation["quote"]
        assert 7.0 <= citation["media_start"] <= citation["media_end"] <= 88.0


def test_bad_uploads_change_nothing(writable):
    client, index_path = writable
    auth = {"X-API-Key": KEY}
    manifest = (index_path / "manifest.json").read_bytes()
    cases = [
        (
            client.post(
                "/documents",
                content=b"just some words, no speakers at all",
                params={"id": "bad"},
                headers={**auth, "Content-Type": "text/plain"},
            ),
            422,
            "TranscriptError",
        ),
        (client.post("/documents", json={"id": "bad", "turns": []}, headers=auth), 422, "TranscriptError"),
        (
            client.post("/documents", json={"id": "bad", "text": "A: x", "turns": TURNS}, headers=auth),
            422,
            "InvalidRequest",
        ),
        (client.post("/documents", json={"id": "../etc", "text": "A: x"}, headers=auth), 422, "InvalidRequest"),
        (
            client.post("/documents", content=b"A: x", headers={**auth, "Content-Type": "text/plain"}),
            422,
            "InvalidRequest",
        ),
        (
            client.post("/documents", content=b"{", headers={**auth, "Content-Type": "application/json"}),
            400,
            "InvalidJSON",
        ),
        (
            client.post("/documents", content=b"A: x", headers={**auth, "Content-Type": "application/pdf"}),
            415,
            "UnsupportedMediaType",
        ),
        (
            client.post("/documents", json={"id": "big", "text": "A: " + "word " * 1000}, headers=auth),
            413,
            "PayloadTooLarge",
        ),
    ]
    for response, status, kind in cases:
        assert error_of(response)[:2] == (status, kind), response.text
    assert error_of(cases[0][0])[2].startswith("upload:bad")
    assert (index_path / "manifest.json").read_bytes() == manifest
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == [SEED_ID]


def test_reads_can_require_the_key(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"api_key": SecretStr(KEY), "reads_require_key": True})
    with serve(create_app(settings, engine=seed_engine)) as url, httpx.Client(base_url=url, trust_env=False) as client:
        assert error_of(client.get("/speakers"))[:2] == (401, "MissingApiKey")
        assert client.get("/speakers", headers={"X-API-Key": KEY}).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_reads_require_key_without_a_key_is_a_configuration_error(seed_settings):
    with pytest.raises(ValueError, match="VERBATIM_READS_REQUIRE_KEY needs VERBATIM_API_KEY"):
        create_app(seed_settings.model_copy(update={"reads_require_key": True}))


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
