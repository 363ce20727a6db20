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
from collections.abc import AsyncIterator
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
from rag.output import answer_to_dict

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


async def answer_events(
    request: Request, engine: Engine, job: AskJob, metrics: Metrics
) -> AsyncIterator[ServerSentEvent]:
    """The events of ``POST /ask/stream``."""
    cancel = threading.Event()
    finished = False
    try:
        try:
            answer = await answer_in_thread(engine, job, cancel)
        except AnswerCancelled:
            return
        except Exception as exc:  # noqa: BLE001 - the status is sent: report it as an event
            finished = True
            yield sse("error", error_payload(exc))
            return
        metrics.record_answer(answer)
        for piece in text_pieces(answer.answer):
            if await request.is_disconnected():
                return
            yield sse("token", {"text": piece})
        for citation in answer.citations:
            if await request.is_disconnected():
                return
            yield sse("citation", asdict(citation))
        finished = True
        yield sse("answer", answer_to_dict(answer))
    finally:
        if not finished:
            cancel.set()
            metrics.streams_cancelled.inc()
