"""Request bodies read as strict JSON: UTF-8 text whose strings are Unicode (RFC 8259, I-JSON).

Python's ``json`` accepts a lone surrogate escape such as ``"\\ud800"`` and returns a ``str``
that cannot be encoded; it then fails far away (in the embedder, or when the answer echoing
the question is written out) as a 500. Refusing it where the body is read keeps the failure
a 400 with our error body, before any work or stream starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

# One escape sequence at a time, left to right, so that "\\" is consumed before what follows it:
# a surrogate pair, else a lone surrogate, else any other escape.
_ESCAPE = re.compile(
    r"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(?P<lone>u[dD][89a-fA-F][0-9a-fA-F]{2})|.)",
    re.DOTALL,
)


def loads_strict(body: bytes) -> Any:
    """``body`` parsed as JSON.

    :raises json.JSONDecodeError: not UTF-8, not JSON, nested too deeply, or a string holds a lone surrogate.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        doc = body.decode("utf-8", errors="replace")
        raise json.JSONDecodeError(f"it is not UTF-8 ({exc.reason})", doc, exc.start) from exc
    if "\\" in text:
        for match in _ESCAPE.finditer(text):
            if match.group("lone"):
                message = f"\\{match.group('lone')} is a lone surrogate, not a character"
                raise json.JSONDecodeError(message, text, match.start())
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise json.JSONDecodeError("it nests too deeply", text, 0) from exc


class StrictJSONRequest(Request):
    """A request whose ``json()`` is ``loads_strict``; FastAPI turns its errors into ``json_invalid``."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_strict(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route that reads its JSON body with ``loads_strict``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
