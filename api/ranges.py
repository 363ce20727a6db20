"""Public files (the demo page, the widget, the docs assets) are always sent whole.

Starlette answers a malformed ``Range`` with a plain-text 400 and an unsatisfiable one with an
empty 416, outside the service's error body. These files are small, and RFC 9110 lets a server
ignore ``Range``: dropping it means a file request never fails on its range.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.limits import is_public

_RANGE_HEADERS = frozenset({b"range", b"if-range"})


class WholeFilesMiddleware:
    """Drop ``Range`` and ``If-Range`` from requests for public paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_public(scope["path"]):
            headers = [(name, value) for name, value in scope["headers"] if name not in _RANGE_HEADERS]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
