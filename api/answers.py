"""Turn an HTTP question into a call of the library's answerer: validate first, then run (in a thread).

Validation happens before any work so that a bad question gets its JSON error and status even
on the streaming endpoint, where the status line goes out before the answer exists.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from api.errors import GeneratorUnavailable
from rag.engine import Engine
from rag.engine import Question as AskJob
from rag.generators.base import Draft, Generator, Message
from rag.generators.registry import available_generators
from rag.models import Answer, Passage
from rag.settings import Settings


class AnswerCancelled(Exception):
    """The client went away; raised inside the worker thread to stop at the next stage."""


def prepare_ask(
    engine: Engine,
    question: str,
    *,
    generator: str | None = None,
    history: Sequence[tuple[str, str]] = (),
    **filters: object,
) -> AskJob:
    """Check the question, the document and the generator; build the options.

    :param filters: ``k``, ``speaker``, ``mode`` and the document filters ``document``, ``date_from``,
        ``date_to``, ``place`` (``None`` means the default).
    :raises QuestionError: empty or overlong question.
    :raises UnknownDocument: ``document`` is not in the index, or the filters match no document.
    :raises GeneratorUnavailable: the generator is not configured on this service.
    """
    settings = engine.settings
    job = engine.question(question, generator=generator, history=history, **filters)
    if job.generator not in available_generators(settings):
        raise GeneratorUnavailable(
            f"the {job.generator!r} generator is not configured on this service; "
            f"available: {', '.join(available_generators(settings))}"
        )
    return job


def run_ask(engine: Engine, job: AskJob, cancel: threading.Event | None = None) -> Answer:
    """Answer ``job`` (blocking: call it in a worker thread).

    An LLM generator that fails falls back to the extractive one, labelled ``fallback``.
    With ``cancel``, the work stops at the next stage once the event is set.
    """
    if cancel is None:
        return engine.answer(job)
    return engine.answer(job, wrap=lambda generator: _Cancellable(generator, cancel))


class _Cancellable:
    """A generator that checks a cancel flag before and after drafting."""

    def __init__(self, inner: Generator, cancel: threading.Event) -> None:
        self.inner = inner
        self.name = inner.name
        self.cancel = cancel

    def generate(
        self, question: str, passages: Sequence[Passage], history: Sequence[Message] = (), focus: str | None = None
    ) -> Draft:
        if self.cancel.is_set():
            raise AnswerCancelled("the client disconnected")
        draft = self.inner.generate(question, passages, history, focus=focus)
        if self.cancel.is_set():
            raise AnswerCancelled("the client disconnected")
        return draft
