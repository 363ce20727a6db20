"""The OpenAI chat-completions dialect: messages in, Verbatim answers out as completions or chunks.

The model ``verbatim`` is the configured generator; the generator names are models as well.
Citations travel twice: as ``“quote” [n]`` lines in the message content, and in full in the
extra top-level ``citations`` field (the last chunk carries it when streaming).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict
from typing import Any

from fastapi import Request
from sse_starlette import ServerSentEvent

from api.answers import AskJob
from rag.generators.registry import available_generators
from api.errors import InvalidRequest, ModelNotFound
from api.metrics import Metrics
from api.schemas import ChatCompletionRequest, ChatMessageIn
from api.streaming import guarded_events, sse, text_pieces
from rag.engine import Engine
from rag.models import Answer
from rag.settings import Settings

DEFAULT_MODEL = "verbatim"


def model_ids(settings: Settings) -> list[str]:
    return [DEFAULT_MODEL, *available_generators(settings)]


def generator_for_model(model: str, settings: Settings) -> str | None:
    """The generator a model id stands for (``None``: the configured one)."""
    if model == DEFAULT_MODEL:
        return None
    if model in available_generators(settings):
        return model
    raise ModelNotFound(f"the model {model!r} does not exist; available: {', '.join(model_ids(settings))}")


def _text(message: ChatMessageIn) -> str:
    if isinstance(message.content, list):
        return "".join(part.text or "" for part in message.content if part.type == "text")
    return message.content or ""


def split_messages(request: ChatCompletionRequest) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last user message) and the earlier user/assistant turns."""
    last = request.messages[-1]
    if last.role != "user":
        raise InvalidRequest(f"the last message must come from the user, not {last.role!r}")
    history = [(m.role, _text(m)) for m in request.messages[:-1] if m.role in ("user", "assistant")]
    return _text(last), history


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def completion(answer: Answer, model: str) -> dict[str, Any]:
    """A ``chat.completion`` object for ``answer``."""
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer}, "finish_reason": "stop"}],
        "citations": [asdict(c) for c in answer.citations],
        "refused": answer.refused,
    }


def _chunk(
    ident: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def completion_chunks(
    request: Request, engine: Engine, job: AskJob, model: str, metrics: Metrics
) -> AsyncIterator[ServerSentEvent]:
    """The ``chat.completion.chunk`` events, then ``[DONE]``; an error becomes an error event."""
    ident, created = completion_id(), int(time.time())

    def render(answer: Answer) -> Iterable[ServerSentEvent]:
        for piece in text_pieces(answer.answer):
            yield sse(None, _chunk(ident, created, model, {"content": piece}))
        citations = [asdict(c) for c in answer.citations]
        yield sse(None, _chunk(ident, created, model, {}, "stop", citations=citations, refused=answer.refused))
        yield sse(None, "[DONE]")

    opening = [sse(None, _chunk(ident, created, model, {"role": "assistant", "content": ""}))]
    return guarded_events(request, engine, job, metrics, render, error_event=None, closing=2, preamble=opening)
