"""Refuse browser requests from pages whose origin is not allowed, before any work is done.

CORS alone only stops a foreign page from *reading* a response; a simple cross-origin POST
would still make the service retrieve and generate (spending LLM time) on a visitor's behalf.
So a request that carries an ``Origin`` which is neither the service's own nor listed in
``cors_origins`` gets 403 JSON, preflights included; the browser then reports a network error.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import OriginNotAllowed, error_response
from api.limits import is_public


class OriginGuardMiddleware:
    """403 for a foreign, unlisted ``Origin`` on every API path (public pages and docs assets excepted)."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = {origin.rstrip("/") for origin in allowed_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]) or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or origin in self.allowed or origin == _own_origin(scope, headers):
            await self.app(scope, receive, send)
            return
        error = OriginNotAllowed(f"requests from origin {origin!r} are not allowed (configure VERBATIM_CORS_ORIGINS)")
        await error_response(error)(scope, receive, send)


def _own_origin(scope: Scope, headers: Headers) -> str:
    host = headers.get("host")
    if host is None:
        server = scope.get("server") or ("", None)
        host = f"{server[0]}:{server[1]}" if server[1] else server[0]
    return f"{scope.get('scheme', 'http')}://{host}"
