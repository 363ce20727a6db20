"""Request limits as pure ASGI middleware: body size, and a per-client token-bucket rate limit.

Pure ASGI rather than ``BaseHTTPMiddleware`` so that Server-Sent Event streams pass through
untouched and a client disconnect still reaches the route.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PayloadTooLarge, RateLimited, error_response
from api.metrics import Metrics

# The demo, the widget, health, metrics and the API docs with their assets: never rate limited or
# origin checked.
PUBLIC_PATHS = frozenset({"/", "/widget.js", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"})
DOCS_ASSETS = "/docs-assets"  # where the app mounts Swagger UI's script, style and icon
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_public(path: str) -> bool:
    """Whether ``path`` is one of the public pages or a docs asset."""
    return path in PUBLIC_PATHS or path.startswith(f"{DOCS_ASSETS}/")


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413, whether or not the client sent Content-Length.

    The body is read up front (limits are small: kilobytes for questions, megabytes for
    uploads) and replayed to the app, so an oversized body never reaches a route half-read.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> JSONResponse:
    return error_response(PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes"))


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """``rate_per_minute`` requests per client, with bursts up to the same number."""

    def __init__(
        self, rate_per_minute: int, clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000
    ) -> None:
        self.capacity = float(rate_per_minute)
        self.refill_per_second = rate_per_minute / 60.0
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, client: str) -> float:
        """Take one token for ``client``: 0 when allowed, else the seconds until one is available."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.refill_per_second)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.refill_per_second

    def _forget_full(self, now: float) -> None:
        """Drop clients whose bucket has refilled: forgetting them changes nothing."""
        refill = self.capacity / self.refill_per_second
        for client in [c for c, b in self._buckets.items() if now - b.updated >= refill]:
            del self._buckets[client]
        if len(self._buckets) >= self.max_clients:  # all busy: make room for the newest clients
            for client in list(self._buckets)[: len(self._buckets) // 2]:
                del self._buckets[client]


class RateLimitMiddleware:
    """429 with ``Retry-After`` once a client (by IP address) exceeds its bucket."""

    def __init__(self, app: ASGIApp, limiter: TokenBucketLimiter, metrics: Metrics) -> None:
        self.app = app
        self.limiter = limiter
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.limiter.acquire(client)
        if wait > 0:
            self.metrics.rate_limited.inc()
            retry_after = max(1, math.ceil(wait))
            error = RateLimited(
                f"too many requests: the limit is {int(self.limiter.capacity)} per minute; retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)
