"""Answers as Server-Sent Events: ``token``… ``citation``… then ``answer`` (or ``error``).

The answer is composed in a worker thread. Only verified text is ever sent: quotations are
checked against the transcript before the first token goes out, so a stream never shows words
that the final answer would then retract. A client that disconnects cancels the stream; the
worker sees the cancel flag and stops at its next stage (an LLM call already in flight
finishes, but nothing after it runs).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict
from typing import Any

import anyio
from fastapi import Request
from sse_starlette import ServerSentEvent

from api.answers import AnswerCancelled, AskJob, run_ask
from api.metrics import Metrics
from rag.engine import Engine
from rag.errors import VerbatimError
from rag.models import Answer
from rag.answering.output import answer_to_dict

logger = logging.getLogger("verbatim.api")
_PIECE = re.compile(r"\S+\s*|\s+")


def text_pieces(text: str, words: int = 3) -> list[str]:
    """``text`` in pieces of a few words each; joined they give ``text`` back exactly."""
    tokens = _PIECE.findall(text)
    return ["".join(tokens[start : start + words]) for start in range(0, len(tokens), words)]


def sse(event: str | None, data: Any) -> ServerSentEvent:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return ServerSentEvent(data=payload, event=event)


def error_payload(exc: Exception) -> dict[str, Any]:
    """The data of an ``error`` event: ours say what went wrong, anything else is logged."""
    if isinstance(exc, VerbatimError):
        return {"error": {"type": type(exc).__name__, "message": str(exc)}}
    logger.error("unexpected error while streaming an answer", exc_info=exc)
    return {"error": {"type": "InternalError", "message": "internal server error"}}


async def answer_in_thread(engine: Engine, job: AskJob, cancel: threading.Event) -> Answer:
    """Run the answer in a worker thread; if this task is cancelled, flag the worker to stop."""
    try:
        return await anyio.to_thread.run_sync(run_ask, engine, job, cancel, abandon_on_cancel=True)
    except BaseException:
        cancel.set()
        raise


async def guarded_events(
    request: Request,
    engine: Engine,
    job: AskJob,
    metrics: Metrics,
    render: Callable[[Answer], Iterable[ServerSentEvent]],
    *,
    error_event: str | None,
    closing: int = 1,
    preamble: Iterable[ServerSentEvent] = (),
) -> AsyncIterator[ServerSentEvent]:
    """Answer in a worker thread and stream ``render(answer)``; a disconnect cancels the work.

    The last ``closing`` events are sent even if the client is leaving, and the stream then
    counts as finished, not cancelled. A failure becomes one ``error_event`` event.
    """
    cancel = threading.Event()
    finished = False
    try:
        for event in preamble:
            yield event
        try:
            answer = await answer_in_thread(engine, job, cancel)
        except AnswerCancelled:
            return
        except Exception as exc:  # noqa: BLE001 - the status is sent: report it as an event
            finished = True
            yield sse(error_event, error_payload(exc))
            return
        metrics.record_answer(answer)
        events = list(render(answer))
        body, tail = events[: len(events) - closing], events[len(events) - closing :]
        for event in body:
            if await request.is_disconnected():
                return
            yield event
        finished = True
        for event in tail:
            yield event
    finally:
        if not finished:
            cancel.set()
            metrics.streams_cancelled.inc()


def answer_events(request: Request, engine: Engine, job: AskJob, metrics: Metrics) -> AsyncIterator[ServerSentEvent]:
    """The events of ``POST /ask/stream``."""

    def render(answer: Answer) -> Iterable[ServerSentEvent]:
        yield from (sse("token", {"text": piece}) for piece in text_pieces(answer.answer))
        yield from (sse("citation", asdict(citation)) for citation in answer.citations)
        yield sse("answer", answer_to_dict(answer))

    return guarded_events(request, engine, job, metrics, render, error_event="error")
