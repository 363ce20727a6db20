"""Who may call the API over real HTTP: origins, the rate limit, metrics, keys for reads."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from api import create_app
from tests.api_common import ALLOWED_ORIGIN, KEY, QUESTION
from tests.http_server import error_of, serve


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



# Keys for reads -------------------------------------------------------------------------------


def test_reads_can_require_the_key(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"api_key": SecretStr(KEY), "reads_require_key": True})
    with serve(create_app(settings, engine=seed_engine)) as url, httpx.Client(base_url=url, trust_env=False) as client:
        assert error_of(client.get("/speakers"))[:2] == (401, "MissingApiKey")
        assert client.get("/speakers", headers={"X-API-Key": KEY}).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_reads_require_key_without_a_key_is_a_configuration_error(seed_settings):
    with pytest.raises(ValueError, match="VERBATIM_READS_REQUIRE_KEY needs VERBATIM_API_KEY"):
        create_app(seed_settings.model_copy(update={"reads_require_key": True}))
