"""The chat widget in headless Chromium, embedded by host pages served from other origins.

The API runs on one loopback port; each host page on another (a different origin). One host's
origin is on the allowed list, the other's is not.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from api import create_app
from tests.conftest import ROOT, SEED, SEED_ID, needs_chromium
from tests.http_server import assert_citations_verbatim, serve

QUESTION = "What did Lavrov say about the terrorist list?"
UNREACHABLE = "The service is unreachable. Please try again later."
REPORTS = ROOT / "eval" / "reports"
TEXTS = {SEED_ID: SEED.read_bytes().decode("utf-8")}

pytestmark = [pytest.mark.integration, needs_chromium]


def host_page(config: dict[str, str]) -> Starlette:
    """A page on its own origin that embeds the widget with one tag (from ``config["api"]``)."""

    async def index(request):
        return HTMLResponse(f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host page</title>
</head><body><h1>A host page</h1><p>Nothing focusable here but the widget.</p>
<script src="{config["api"]}/widget.js" data-title="Ask the transcript" defer></script></body></html>""")

    return Starlette(routes=[Route("/", index)])


@pytest.fixture(scope="module")
def servers(seed_settings, seed_engine):
    """URLs of the API and of two host pages, all on 127.0.0.1 with different ports."""
    # The API must know the allowed host's origin, and the hosts the API's URL: hosts first.
    config: dict[str, str] = {}
    with serve(host_page(config)) as allowed, serve(host_page(config)) as other:
        settings = seed_settings.model_copy(update={"cors_origins": [allowed], "rate_limit_per_minute": 100_000})
        with serve(create_app(settings, engine=seed_engine)) as api:
            config["api"] = api
            yield {"api": api, "allowed": allowed, "other": other}


def _open_and_ask(page, host_url: str) -> None:
    page.goto(host_url)
    page.wait_for_selector("#verbatim-widget", state="attached")
    page.keyboard.press("Tab")  # the launcher is the page's only focusable element
    page.keyboard.press("Enter")
    textarea = page.locator("textarea.question")
    textarea.wait_for(state="visible")
    assert textarea.evaluate("el => el.getRootNode().activeElement === el")
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")


def test_widget_streams_an_answer_and_shows_the_quote_in_place(browser, servers):
    expected = httpx.post(f"{servers['api']}/ask", json={"question": QUESTION}, timeout=60, trust_env=False).json()
    assert_citations_verbatim(expected["citations"], TEXTS)
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    try:
        with page.expect_response(lambda r: r.url.endswith("/ask/stream")) as streamed:
            _open_and_ask(page, servers["allowed"])
        assert streamed.value.headers["content-type"].startswith("text/event-stream")
        cite = page.locator(".msg.assistant button.cite").first
        cite.wait_for(state="visible", timeout=60_000)
        citation = next(c for c in expected["citations"] if str(c["id"]) == cite.get_attribute("data-cite"))
        assert cite.get_attribute("aria-label") == f"Quote {citation['id']}: {citation['speaker']}"
        speakers = page.locator(".msg.assistant .citations .speaker").all_text_contents()
        assert speakers == [c["speaker"] for c in expected["citations"]]
        sources = page.locator(".msg.assistant .citations .source").all_text_contents()
        assert sources == [f"{c['document']} \u00B7 2015-12-15" for c in expected["citations"]]
        REPORTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(REPORTS / "widget-answer.png"))

        cite.click()
        mark = page.locator("mark.quote-highlight")
        mark.wait_for(state="visible")
        assert mark.text_content() == citation["quote"]
        assert page.locator(".context h3").text_content() == citation["label"]
        page.screenshot(path=str(REPORTS / "widget.png"))

        page.keyboard.press("Escape")  # closes the passage and returns focus to the citation
        assert page.locator(".context").is_hidden()
        assert cite.evaluate("el => el.getRootNode().activeElement === el")

        # The conversation is kept: a follow-up resolves "it" from the first question.
        page.locator("textarea.question").focus()
        page.keyboard.type("and what did Kerry say about it?")
        page.keyboard.press("Enter")
        follow_up = page.locator(".msg.assistant").nth(1).locator("button.cite").first
        follow_up.wait_for(state="visible", timeout=60_000)
        assert follow_up.get_attribute("aria-label").endswith(": KERRY")

        page.locator("textarea.question").focus()
        page.keyboard.type("What did Obama say about Syria?")
        page.keyboard.press("Enter")
        refused = page.locator(".msg.refused")
        refused.wait_for(state="visible", timeout=60_000)
        assert refused.text_content() == (
            "Obama does not speak in this transcript (speakers: Lavrov, Kerry, Moderator)."
        )
    finally:
        page.close()
    assert (REPORTS / "widget.png").stat().st_size > 10_000


def test_the_demo_page_answers_on_the_same_origin(browser, servers):
    page = browser.new_page()
    try:
        page.goto(f"{servers['api']}/")
        page.locator("a[data-q]").first.click()  # "What did Lavrov say about ISIL?"
        cite = page.locator(".msg.assistant button.cite").first
        cite.wait_for(state="visible", timeout=60_000)
        assert cite.get_attribute("aria-label").endswith(": LAVROV")
        assert page.locator("textarea.question").is_visible()  # the page's hostile CSS does not reach the panel
    finally:
        page.close()


def test_widget_on_an_origin_that_is_not_allowed_shows_an_error(browser, servers):
    page = browser.new_page()
    try:
        _open_and_ask(page, servers["other"])
        error = page.locator(".msg.error")
        error.wait_for(state="visible", timeout=30_000)
        assert error.text_content() == UNREACHABLE
        assert page.locator("button.cite").count() == 0
    finally:
        page.close()
    metrics = httpx.get(f"{servers['api']}/metrics", trust_env=False).text.splitlines()
    assert 'verbatim_http_requests_total{method="OPTIONS",route="/ask/stream",status="403"} 1' in metrics


def test_widget_says_so_when_the_service_goes_down(browser, seed_settings, seed_engine):
    config: dict[str, str] = {}
    with serve(host_page(config)) as host:
        page = browser.new_page()
        try:
            settings = seed_settings.model_copy(update={"cors_origins": [host]})
            with serve(create_app(settings, engine=seed_engine)) as api:
                config["api"] = api
                page.goto(host)
                page.wait_for_selector("#verbatim-widget", state="attached")
            # The widget is on the page; the service behind it has stopped.
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
            page.keyboard.type(QUESTION)
            page.keyboard.press("Enter")
            error = page.locator(".msg.error")
            error.wait_for(state="visible", timeout=30_000)
            assert error.text_content() == UNREACHABLE
        finally:
            page.close()
