"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from api.answers import prepare_ask, run_ask
from api.chat import completion, completion_chunks, generator_for_model, model_ids, split_messages
from api.deps import EngineDep, MetricsDep, ReadAccess
from api.jsonbody import StrictJSONRoute
from api.schemas import ChatCompletion, ChatCompletionRequest, ModelList, error_responses, sse_response

router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[ReadAccess], route_class=StrictJSONRoute)
_STARTED = int(time.time())


@router.get(
    "/models", response_model=ModelList, responses=error_responses(401, 429, 503), summary="Models (generators)"
)
async def list_models(engine: EngineDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": _STARTED, "owned_by": "verbatim"}
            for name in model_ids(engine.settings)
        ],
    }


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: sse_response(
            "A chat.completion, or when stream is true unnamed events: chat.completion.chunk objects, then [DONE].",
            {None: None},
        ),
        **error_responses(400, 401, 404, 413, 415, 422, 429, 502, 503),
    },
    summary="Answer the last user message, OpenAI style",
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, engine: EngineDep, metrics: MetricsDep
) -> Any:
    """The answer's text (quotations with `[n]` markers) is the message content; the verified
    citations are in the extra `citations` field."""
    generator = generator_for_model(body.model, engine.settings)
    question, history = split_messages(body)
    job = prepare_ask(
        engine, question, generator=generator, history=history, k=body.k, speaker=body.speaker, document=body.document
    )
    if body.stream:
        return EventSourceResponse(completion_chunks(request, engine, job, body.model, metrics))
    answer = await run_in_threadpool(run_ask, engine, job)
    metrics.record_answer(answer)
    return completion(answer, body.model)
