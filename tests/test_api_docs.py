"""The API's documentation page offline: every script, style and icon comes from the service itself."""

from __future__ import annotations

import re

import httpx
import pytest

from api import create_app
from tests.conftest import needs_chromium
from tests.http_server import serve

# Every URL the page can make the browser load: attributes, and the spec URL Swagger UI is handed.
_REFERENCE = re.compile(r"""\b(?:src|href)=["']([^"']+)["']|\burl: ?["']([^"']+)["']""")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def server(seed_settings, seed_engine):
    with serve(create_app(seed_settings, engine=seed_engine)) as url:
        yield url


def _references(html: str) -> list[str]:
    return [attribute or spec for attribute, spec in _REFERENCE.findall(html)]


def test_the_docs_page_names_no_other_host_and_every_asset_it_names_answers_any_origin(server):
    with httpx.Client(base_url=server, timeout=30, trust_env=False) as client:
        html = client.get("/docs").text
        references = _references(html)
        assert "//" not in html, "an absolute or protocol-relative URL: the page would need another host"
        assert "/openapi.json" in references and any(ref.endswith(".js") for ref in references), references
        for reference in references:  # public like the page itself: no origin check (nor rate limit)
            response = client.get(reference, headers={"Origin": "http://elsewhere.example"})
            assert (response.status_code, bool(response.content)) == (200, True), reference


def _operation_count(server: str) -> int:
    schema = httpx.get(f"{server}/openapi.json", timeout=30, trust_env=False).json()
    return sum(1 for item in schema["paths"].values() for method in item if method in HTTP_METHODS)


@pytest.mark.integration
@needs_chromium
def test_the_docs_page_renders_every_operation_in_chromium_with_the_network_cut_off(browser, server):
    page = browser.new_page()
    elsewhere: list[str] = []

    def only_the_service(route) -> None:
        if route.request.url.startswith(f"{server}/"):
            route.continue_()
        else:  # what a machine without internet would do
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_service)
    page.goto(f"{server}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)  # Swagger UI's block for one operation
    assert page.locator(".opblock").count() == _operation_count(server)
    assert elsewhere == []
    page.close()
