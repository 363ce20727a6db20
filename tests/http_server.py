"""Serve an ASGI app with uvicorn on a free 127.0.0.1 port, in a background thread, for one test.

Not a test module. ``with serve(app) as base_url:`` yields ``http://127.0.0.1:PORT`` once the
server has started (lifespan included) and shuts it down on exit.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

from api.app import create_app, server_options
from rag.embedders.embedding import Embedder
from rag.engine import Engine
from rag.settings import Settings


@contextmanager
def serve(app: ASGIApp, *, startup_timeout: float = 60.0) -> Iterator[str]:
    """Run ``app`` until the block exits; raises ``RuntimeError`` if it does not start.

    A Verbatim app is served with the options ``rag serve`` gives uvicorn for its settings.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = getattr(getattr(app, "state", None), "settings", None)
    options = server_options(settings) if settings is not None else {"proxy_headers": False}
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=3, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the server on port {port} exited during startup")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {port} did not start within {startup_timeout:.0f} s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class FakeChatBackend:
    """A stand-in OpenAI-compatible LLM server: answers ``reply`` after ``delay`` seconds.

    ``reply`` is the message content returned verbatim (JSON for a good answer, anything for
    garbage); ``requests`` counts the chat completions received.
    """

    def __init__(self, reply: str = "", delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.requests = 0

    def app(self) -> ASGIApp:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def completions(request: Request) -> JSONResponse:
            import anyio

            self.requests += 1
            body = await request.json()
            if self.delay:
                await anyio.sleep(self.delay)
            return JSONResponse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", "fake"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}
                    ],
                }
            )

        return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def assert_citations_verbatim(citations: list[dict], texts: dict[str, str]) -> None:
    """The product's rule, on every citation: ``original_text[char_start:char_end] == quote``."""
    for citation in citations:
        original = texts[citation["document"]]
        assert original[citation["char_start"] : citation["char_end"]] == citation["quote"], citation


def assert_passages_verbatim(passages: list[dict], texts: dict[str, str]) -> None:
    for passage in passages:
        assert texts[passage["document"]][passage["char_start"] : passage["char_end"]] == passage["text"], passage["id"]


@contextmanager
def serve_index_copy(
    source: Path, target: Path, settings: Settings, embedder: Embedder, *, headers: dict[str, str] | None = None
) -> Iterator[httpx.Client]:
    """A client of a server over a private copy of the index at ``source`` (tests that write)."""
    shutil.copytree(source, target)
    settings = settings.model_copy(update={"index_path": target})
    engine = Engine.load(settings, embedder=embedder)
    with (
        serve(create_app(settings, engine=engine)) as url,
        httpx.Client(base_url=url, timeout=60, trust_env=False, headers=headers or {}) as client,
    ):
        yield client


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    """Status, type and message of an error in the house shape ``{"error": {"type", "message"}}``."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    return response.status_code, body["error"]["type"], body["error"]["message"]
