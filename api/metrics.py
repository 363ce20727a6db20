"""A tiny Prometheus registry (text exposition format 0.0.4) and the middleware that feeds it."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.models import Answer

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
Labels = tuple[tuple[str, str], ...]


def _labels(values: dict[str, str]) -> Labels:
    return tuple(sorted(values.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format(labels: Labels, extra: Labels = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in pairs) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(_labels(labels), 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            for key, value in sorted(self._values.items()):
                lines.append(f"{self.name}{_format(key)} {_number(value)}")
        return lines


class Histogram:
    """Cumulative buckets, a sum and a count per label set."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.name, self.help = name, help_text
        self.buckets = tuple(buckets)
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            counts, totals = self._series.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0]))
            for position, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[position] += 1
            counts[-1] += 1
            totals[0] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            for key, (counts, totals) in sorted(self._series.items()):
                for bound, count in zip(self.buckets, counts):
                    lines.append(f"{self.name}_bucket{_format(key, (('le', _number(bound)),))} {count}")
                lines.append(f"{self.name}_bucket{_format(key, (('le', '+Inf'),))} {counts[-1]}")
                lines.append(f"{self.name}_sum{_format(key)} {totals[0]!r}")
                lines.append(f"{self.name}_count{_format(key)} {counts[-1]}")
        return lines


class Metrics:
    """Everything ``GET /metrics`` exposes."""

    def __init__(self) -> None:
        self.requests = Counter("verbatim_http_requests_total", "HTTP requests by method, route and status.")
        self.latency = Histogram("verbatim_http_request_duration_seconds", "HTTP request latency by method and route.")
        self.answers = Counter("verbatim_answers_total", "Answers given, by generator and whether it was a fallback.")
        self.refusals = Counter(
            "verbatim_refusals_total", "Answers that refused because the transcript does not cover it."
        )
        self.quotes_dropped = Counter("verbatim_quotes_dropped_total", "Drafted quotations that failed verification.")
        self.quotes_repaired = Counter(
            "verbatim_quotes_repaired_total", "Quotations repaired to the transcript's text."
        )
        self.summaries_dropped = Counter(
            "verbatim_summaries_dropped_total", "Generator summaries left out because the quotations did not support them."
        )
        self.streams_cancelled = Counter(
            "verbatim_streams_cancelled_total", "Streamed answers stopped by a disconnect."
        )
        self.rate_limited = Counter("verbatim_rate_limited_total", "Requests refused by the rate limiter.")

    def record_answer(self, answer: Answer) -> None:
        generator = answer.generator
        self.answers.inc(generator=generator, fallback=str(answer.fallback).lower())
        if answer.refused:
            self.refusals.inc(generator=generator)
        if answer.quotes_dropped:
            self.quotes_dropped.inc(answer.quotes_dropped, generator=generator)
        if answer.quotes_repaired:
            self.quotes_repaired.inc(answer.quotes_repaired, generator=generator)
        if answer.summary_dropped:
            self.summaries_dropped.inc(generator=generator)

    def render(self) -> str:
        families = (
            self.requests,
            self.latency,
            self.answers,
            self.refusals,
            self.quotes_dropped,
            self.quotes_repaired,
            self.summaries_dropped,
            self.streams_cancelled,
            self.rate_limited,
        )
        return "\n".join(line for family in families for line in family.render()) + "\n"


class MetricsMiddleware:
    """Counts every HTTP request and times it to the end of its body (streams included).

    Routes are labelled by their path template (``/documents/{document_id}``), never by the raw
    path, so that a scan of random URLs cannot grow the registry without bound.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = self._route(scope)
            method = scope["method"]
            self.metrics.requests.inc(method=method, route=route, status=str(status))
            self.metrics.latency.observe(time.perf_counter() - started, method=method, route=route)

    def _route(self, scope: Scope) -> str:
        routed = scope.get("route")  # set by the router; absent when a middleware answered first
        if routed is not None and hasattr(routed, "path"):
            return routed.path
        for route in self.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return getattr(route, "path", "other")
        return "unmatched"
