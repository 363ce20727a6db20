"""Request bodies read as strict JSON: UTF-8 text whose strings are Unicode (RFC 8259, I-JSON).

Refusing a lone surrogate or a body that is not UTF-8 where the body is read keeps the failure
a 400 with our error body, before any work or stream starts (see ``rag.formats.jsontext``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from rag.formats.jsontext import loads_strict


def loads_body(body: bytes) -> Any:
    """``body`` parsed as JSON.

    :raises json.JSONDecodeError: not UTF-8, not JSON, nested too deeply, or a string holds a lone surrogate.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        doc = body.decode("utf-8", errors="replace")
        raise json.JSONDecodeError(f"it is not UTF-8 ({exc.reason})", doc, exc.start) from exc
    return loads_strict(text)


class StrictJSONRequest(Request):
    """A request whose ``json()`` is ``loads_body``; FastAPI turns its errors into ``json_invalid``."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_body(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route that reads its JSON body with ``loads_body``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
