"""``POST /ask`` and ``POST /ask/stream``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from api.answers import AskJob, prepare_ask, run_ask
from api.deps import EngineDep, MetricsDep, ReadAccess
from api.jsonbody import StrictJSONRoute
from api.schemas import AnswerPublic, AskRequest, error_responses, sse_response
from api.streaming import answer_events
from rag.engine import Engine
from rag.answering.output import answer_to_dict

router = APIRouter(tags=["answers"], dependencies=[ReadAccess], route_class=StrictJSONRoute)
_ERRORS = error_responses(400, 401, 404, 413, 415, 422, 429, 502, 503)

_STREAM_DOC = """Server-Sent Events, in this order:

* `token` `{"text": "..."}`: the next piece of the (verified) answer text;
* `citation` `{...CitationPublic}`: one per verified quotation;
* `answer` `{...AnswerPublic}`: the complete answer object, always last;
* or `error` `{"error": {"type", "message"}}` if answering fails after the stream started.

Bad input is refused before the stream starts, with a JSON error and its status."""


def _job(engine: Engine, body: AskRequest) -> AskJob:
    return prepare_ask(
        engine,
        body.question,
        generator=body.generator,
        history=[(m.role, m.content) for m in body.history],
        k=body.k,
        speaker=body.speaker,
        document=body.document,
        date_from=body.date_from.isoformat() if body.date_from else None,  # the index keeps dates as ISO text
        date_to=body.date_to.isoformat() if body.date_to else None,
        place=body.place,
        mode=body.retriever,
    )


@router.post(
    "/ask", response_model=AnswerPublic, responses=_ERRORS, summary="Answer a question with verified quotations"
)
async def ask(body: AskRequest, engine: EngineDep, metrics: MetricsDep) -> dict[str, Any]:
    """The same answer object as `rag ask --json`: every citation satisfies
    `original_text[char_start:char_end] == quote`."""
    job = _job(engine, body)
    answer = await run_in_threadpool(run_ask, engine, job)
    metrics.record_answer(answer)
    return answer_to_dict(answer)


@router.post(
    "/ask/stream",
    response_class=EventSourceResponse,
    responses={
        200: sse_response(
            _STREAM_DOC,
            {"token": "TokenEvent", "citation": "CitationPublic", "answer": "AnswerPublic", "error": "ErrorResponse"},
        ),
        **_ERRORS,
    },
    summary="Answer a question as Server-Sent Events",
)
async def ask_stream(body: AskRequest, request: Request, engine: EngineDep, metrics: MetricsDep) -> EventSourceResponse:
    """Streams the answer of `POST /ask`; a client that disconnects stops the work."""
    job = _job(engine, body)
    return EventSourceResponse(answer_events(request, engine, job, metrics))
