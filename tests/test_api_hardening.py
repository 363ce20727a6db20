"""What a probe of the running service found, over real HTTP: each case is refused cleanly now."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic import SecretStr

from api import create_app
from api.app import server_options
from rag.embedders.embedding import Embedder
from rag.engine import Engine
from rag.errors import ModelError
from rag.generators.llm import LLMGenerator, ScriptedChat
from rag.generators.prompts import PromptTemplate
from tests.conftest import ROOT, SEED_ID
from tests.http_server import error_of, serve, serve_index_copy

QUESTION = "What did Lavrov say about the terrorist list?"
KEY = "hardening-key"
LONE_SURROGATE = b'{"question": "\\ud800 x"}'


@pytest.fixture(scope="module")
def server(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 100_000})
    with serve(create_app(settings, engine=seed_engine)) as url:
        yield url


@pytest.fixture
def writable(tmp_path, seed_index_path, seed_settings, minilm):
    """A server over a private copy of the seed index, with an API key."""
    settings = seed_settings.model_copy(update={"api_key": SecretStr(KEY)})
    with serve_index_copy(seed_index_path, tmp_path / "index", settings, minilm) as client:
        yield client


# Lone surrogates ------------------------------------------------------------------------------

SURROGATE_REFUSED = (
    400,
    "InvalidJSON",
    "the request body is not valid JSON: \\ud800 is a lone surrogate, not a character (at character 14)",
)


@pytest.mark.parametrize("path", ["/ask", "/ask/stream"])
def test_a_lone_surrogate_in_a_question_is_invalid_json_on_a_kept_connection(client, path):
    json_headers = {"Content-Type": "application/json"}
    response = client.post(path, content=LONE_SURROGATE, headers=json_headers)
    assert response.headers["content-type"] == "application/json"
    assert error_of(response) == SURROGATE_REFUSED
    assert response.headers.get("connection") != "close"
    assert client.get("/healthz").status_code == 200  # the same keep-alive connection still serves


def test_a_lone_surrogate_in_a_chat_message_is_invalid_json(client):
    body = b'{"model": "verbatim", "messages": [{"role": "user", "content": "x \\udfff"}]}'
    response = client.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert error_of(response) == (
        400,
        "InvalidJSON",
        "the request body is not valid JSON: \\udfff is a lone surrogate, not a character (at character 66)",
    )


def test_a_paired_surrogate_and_an_escaped_backslash_are_fine(client):
    # "\ud83d\ude00" is one emoji; "\\ud800" is a backslash followed by letters.
    body = b'{"question": "\\ud83d\\ude00 \\\\ud800 What did Lavrov say about the terrorist list?"}'
    response = client.post("/ask", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["question"] == "\U0001f600 \\ud800 What did Lavrov say about the terrorist list?"


def test_a_body_that_is_not_utf8_is_invalid_json_not_an_http_error(client):
    response = client.post("/ask", content=b'{"question": "\xff"}', headers={"Content-Type": "application/json"})
    assert error_of(response) == (
        400,
        "InvalidJSON",
        "the request body is not valid JSON: it is not UTF-8 (invalid start byte) (at character 14)",
    )


def test_a_body_nested_too_deeply_is_invalid_json_not_an_http_error(client):
    body = b'{"question": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    response = client.post("/ask", content=body, headers={"Content-Type": "application/json"})
    message = "the request body is not valid JSON: it nests too deeply (at character 0)"
    assert error_of(response) == (400, "InvalidJSON", message)


def test_a_lone_surrogate_in_an_upload_is_invalid_json(writable):
    body = b'{"id": "harbour", "text": "CHAIR: \\ud800"}'
    response = writable.post(
        "/documents", content=body, headers={"Content-Type": "application/json", "X-API-Key": KEY}
    )
    assert error_of(response) == (
        400,
        "InvalidJSON",
        "the request body is not valid JSON: \\ud800 is a lone surrogate, not a character (at character 34)",
    )
    assert [d["id"] for d in writable.get("/documents").json()["documents"]] == [SEED_ID]


def test_ask_with_dates_filters_instead_of_failing(client):
    answer = client.post("/ask", json={"question": QUESTION, "date_from": "2015-12-01", "date_to": "2015-12-31"})
    assert answer.status_code == 200 and answer.json()["refused"] is False
    assert error_of(client.post("/ask", json={"question": QUESTION, "date_from": "2016-01-01"})) == (
        404,
        "UnknownDocument",
        "no document matches date_from=2016-01-01",
    )


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PATCH", "/documents", "GET, POST"), ("PUT", f"/documents/{SEED_ID}", "GET, DELETE"), ("GET", "/ask", "POST")],
)
def test_a_405_names_every_method_of_the_path(client, method, path, allow):
    response = client.request(method, path)
    assert error_of(response) == (405, "MethodNotAllowed", f"{method} is not allowed on {path}")
    assert response.headers["allow"] == allow


# Rate limit behind (or without) a proxy -------------------------------------------------------


def test_rotating_x_forwarded_for_does_not_escape_the_rate_limit(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 2})
    with serve(create_app(settings, engine=seed_engine)) as url, httpx.Client(base_url=url, trust_env=False) as client:
        statuses = [
            client.get("/speakers", headers={"X-Forwarded-For": f"203.0.113.{n % 250}, 10.0.{n // 250}.1"}).status_code
            for n in range(300)
        ]
    assert statuses[:2] == [200, 200]
    assert set(statuses[2:]) == {429}


def test_a_trusted_proxy_forwards_the_client_address(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 2, "trusted_proxies": ["127.0.0.1"]})
    with serve(create_app(settings, engine=seed_engine)) as url, httpx.Client(base_url=url, trust_env=False) as client:
        first = [client.get("/speakers", headers={"X-Forwarded-For": "203.0.113.1"}).status_code for _ in range(3)]
        other = client.get("/speakers", headers={"X-Forwarded-For": "203.0.113.2"}).status_code
    assert (first, other) == ([200, 200, 429], 200)


def test_server_options_trust_forwarded_headers_only_from_the_configured_proxies(seed_settings):
    assert server_options(seed_settings) == {"proxy_headers": False, "forwarded_allow_ips": []}
    behind = seed_settings.model_copy(update={"trusted_proxies": ["10.0.0.2", "10.0.0.3"]})
    assert server_options(behind) == {"proxy_headers": True, "forwarded_allow_ips": ["10.0.0.2", "10.0.0.3"]}


# Host allow-list (DNS rebinding) ---------------------------------------------------------------


def test_a_foreign_host_is_refused_even_with_its_own_origin(client, server):
    port = server.rsplit(":", 1)[1]
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    assert error_of(client.post("/ask", json={"question": QUESTION}, headers=rebound)) == (
        400,
        "HostNotAllowed",
        f"the Host 'evil.example:{port}' is not served here (configure VERBATIM_ALLOWED_HOSTS)",
    )
    assert error_of(client.get("/documents", headers={"Host": "evil.example"}))[:2] == (400, "HostNotAllowed")
    for host in ("localhost", f"LOCALHOST:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert client.get("/speakers", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_take_the_configured_host_and_a_wildcard(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"host": "verbatim.internal", "allowed_hosts": ["*.example.org"]})
    with serve(create_app(settings, engine=seed_engine)) as url, httpx.Client(base_url=url, trust_env=False) as client:
        assert client.get("/speakers", headers={"Host": "verbatim.internal:8000"}).status_code == 200
        assert client.get("/speakers", headers={"Host": "qa.example.org"}).status_code == 200
        assert error_of(client.get("/speakers", headers={"Host": "localhost"}))[:2] == (400, "HostNotAllowed")
        assert error_of(client.get("/speakers", headers={"Host": "example.org.evil"}))[:2] == (400, "HostNotAllowed")
    anything = seed_settings.model_copy(update={"allowed_hosts": ["*"]})
    with serve(create_app(anything, engine=seed_engine)) as url, httpx.Client(base_url=url, trust_env=False) as client:
        assert client.get("/speakers", headers={"Host": "evil.example"}).status_code == 200


# Backend faults fall back to the extractive answer -------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        ValueError("Requested tokens (5123) exceed context window of 4096"),  # llama-cpp, context overflow
        RuntimeError("llama_decode returned -3"),
        AttributeError("'str' object has no attribute 'message'"),  # a malformed reply read carelessly
    ],
    ids=["context-overflow", "decode-failure", "malformed-reply"],
)
def test_a_chat_backend_that_raises_falls_back_to_the_extractive_answer(seed_settings, minilm, fault):
    settings = seed_settings.model_copy(update={"openai_base_url": "http://backend.invalid/v1"})
    engine = Engine.load(settings, embedder=minilm)
    template = PromptTemplate(ROOT / "prompts" / "answer.j2")
    chat = ScriptedChat([fault, fault], name="openai")
    generator = LLMGenerator(chat, template, engine.counter.count, context_tokens=4096, max_tokens=256)
    engine.use_generator("openai", generator)
    expected = engine.snapshot.answerer.answer(QUESTION, engine.generator("extractive"), engine.options())
    with (
        serve(create_app(settings, engine=engine)) as url,
        httpx.Client(base_url=url, timeout=60, trust_env=False) as client,
    ):
        answer = client.post("/ask", json={"question": QUESTION, "generator": "openai"})
        completion = client.post(
            "/v1/chat/completions", json={"model": "openai", "messages": [{"role": "user", "content": QUESTION}]}
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["generator"], body["fallback"], body["refused"]) == ("extractive", True, False)
    assert [c["quote"] for c in body["citations"]] == [c.quote for c in expected.citations]
    assert completion.status_code == 200, completion.text
    assert completion.json()["choices"][0]["message"]["content"] == expected.answer
    assert len(chat.prompts) == 2  # the backend was asked each time, and failed each time


# Large uploads are jobs ----------------------------------------------------------------------

HARBOUR_TURNS = [
    {"speaker": "CHAIR", "text": "The committee will now hear from the harbour master about the new pier."},
    {
        "speaker": "HARBOUR MASTER",
        "text": "The new pier will open in May. It was paid for by the port authority alone.",
    },
]


class BrokenEmbedder:
    """The index's embedder by name and size, whose every call fails (an exhausted GPU, say)."""

    def __init__(self, like: Embedder) -> None:
        self.name, self.dim = like.name, like.dim

    def embed(self, texts):
        raise ModelError("the embedder ran out of memory")


def _jobs_server(tmp_path, seed_index_path, seed_settings, embedder):
    """A writable server that makes a job of every upload over 2 kB."""
    settings = seed_settings.model_copy(update={"api_key": SecretStr(KEY), "upload_job_min_bytes": 2048})
    auth = {"X-API-Key": KEY}
    with serve_index_copy(seed_index_path, tmp_path / "index", settings, embedder, headers=auth) as client:
        yield client


@pytest.fixture
def jobs_server(tmp_path, seed_index_path, seed_settings, minilm):
    yield from _jobs_server(tmp_path, seed_index_path, seed_settings, minilm)


@pytest.fixture
def broken_jobs_server(tmp_path, seed_index_path, seed_settings, minilm):
    yield from _jobs_server(tmp_path, seed_index_path, seed_settings, BrokenEmbedder(minilm))


def _poll(client: httpx.Client, location: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        job = client.get(location).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        assert job["status"] in ("pending", "running")
        time.sleep(0.05)


def test_a_large_upload_is_a_job_and_a_small_one_is_not(jobs_server):
    client = jobs_server
    filler = [{"speaker": "CLERK", "text": f"Item {n} of the agenda was read into the record."} for n in range(60)]
    large = {"id": "harbour-large", "turns": HARBOUR_TURNS + filler}
    accepted = client.post("/documents", json=large)
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["location"]
    started = accepted.json()
    assert location == f"/jobs/{started['id']}"
    assert started["status"] in ("pending", "running") and started["result"] is None and started["error"] is None
    job = _poll(client, location)
    assert (job["status"], job["error"], job["result"]["status"]) == ("done", None, "added")
    assert {k: job["result"]["document"][k] for k in ("id", "turns")} == {"id": "harbour-large", "turns": 62}
    assert "harbour-large" in [d["id"] for d in client.get("/documents").json()["documents"]]

    small = client.post("/documents", json={"id": "harbour", "turns": HARBOUR_TURNS})
    assert (small.status_code, small.json()["status"]) == (201, "added")
    assert "location" not in small.headers


def test_a_large_upload_that_fails_while_indexing_is_a_failed_job_with_the_error(broken_jobs_server):
    client = broken_jobs_server
    large = {"id": "harbour-large", "text": "CHAIR: The pier will open in May.\n" * 100}
    accepted = client.post("/documents", json=large)
    assert accepted.status_code == 202, accepted.text
    job = _poll(client, accepted.headers["location"])
    assert (job["status"], job["result"]) == ("failed", None)
    assert job["error"] == {"type": "ModelError", "message": "the embedder ran out of memory"}
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == [SEED_ID]


def test_a_large_upload_that_does_not_parse_is_refused_at_once(jobs_server):
    bad = {"id": "bad", "text": "no speakers here, only words " * 100}
    status, kind, _ = error_of(jobs_server.post("/documents", json=bad))
    assert (status, kind) == (422, "TranscriptError")


def test_jobs_need_the_key_and_an_existing_id(jobs_server):
    assert error_of(jobs_server.get("/jobs/nope")) == (
        404,
        "JobNotFound",
        "no job 'nope' (finished jobs are forgotten in time, and on a restart)",
    )
    assert error_of(jobs_server.get("/jobs/nope", headers={"X-API-Key": "wrong"}))[:2] == (401, "InvalidApiKey")
