"""Refuse browser requests from hosts and pages that are not allowed, before any work is done.

The ``Host`` header is checked first: a page on ``evil.example`` whose name an attacker
re-points at 127.0.0.1 (DNS rebinding) sends ``Host: evil.example`` and a matching ``Origin``,
so it looks same-origin to the origin guard below. Only the names the service is reached by
(``allowed_hosts``, and the configured ``host``) are served; anything else gets 400 JSON.

CORS alone only stops a foreign page from *reading* a response; a simple cross-origin POST
would still make the service retrieve and generate (spending LLM time) on a visitor's behalf.
So a request that carries an ``Origin`` which is neither the service's own nor listed in
``cors_origins`` gets 403 JSON, preflights included; the browser then reports a network error.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import HostNotAllowed, OriginNotAllowed, error_response
from api.limits import is_public


class HostGuardMiddleware:
    """400 for a ``Host`` that is not on the list; ``*`` allows any, ``*.example.org`` its subdomains."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed = {_host_name(host) for host in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        name = _host_name(host)
        if name in self.allowed or any(
            pattern.startswith("*.") and name.endswith(pattern[1:]) for pattern in self.allowed
        ):
            await self.app(scope, receive, send)
            return
        error = HostNotAllowed(f"the Host {host!r} is not served here (configure VERBATIM_ALLOWED_HOSTS)")
        await error_response(error)(scope, receive, send)


def _host_name(host: str) -> str:
    """The name of a ``Host`` value, lower case, without its port: ``[::1]:8000`` is ``::1``.

    A port that is not digits (``localhost:80@evil.example``) makes the value no name at all.
    """
    host = host.strip().lower()
    if host.startswith("[") and "]" in host:
        name, port = host[1 : host.find("]")], host[host.find("]") + 1 :]
        return name if port in ("", ":") or (port[:1] == ":" and port[1:].isdigit()) else ""
    if host.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        host, port = host.split(":")
        if port and not port.isdigit():  # "name:" has an empty port, which URI syntax allows
            return ""
    return host.rstrip(".")


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
