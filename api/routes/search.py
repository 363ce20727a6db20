"""``GET /search``: ranked passages."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep, ReadAccess
from api.schemas import NON_BLANK, RetrieverName, SearchResponse, error_responses
from rag.answering.output import passage_to_dict

router = APIRouter(tags=["search"], dependencies=[ReadAccess])


@router.get(
    "/search",
    response_model=SearchResponse,
    responses=error_responses(401, 404, 422, 429, 503),
    summary="Passages that best match a query",
)
async def search(
    engine: EngineDep,
    q: Annotated[str, Query(description="The query.", json_schema_extra=NON_BLANK)],
    k: Annotated[int | None, Query(ge=1, le=100, description="How many passages.")] = None,
    speaker: Annotated[str | None, Query(description="Only this speaker's turns.")] = None,
    document: Annotated[str | None, Query(description="Only this document.")] = None,
    date_from: Annotated[date | None, Query(description="Only documents dated on or after this day.")] = None,
    date_to: Annotated[date | None, Query(description="Only documents dated on or before this day.")] = None,
    place: Annotated[str | None, Query(description="Only documents whose place, venue or title names this.")] = None,
    retriever: Annotated[RetrieverName | None, Query(description="dense, bm25 or hybrid.")] = None,
) -> dict[str, Any]:
    """Passages with speaker, turn, offsets and fused score, best first."""
    result = await run_in_threadpool(lambda: engine.search(
        q, k=k, mode=retriever, speaker=speaker, document=document, place=place,
        date_from=date_from.isoformat() if date_from else None, date_to=date_to.isoformat() if date_to else None,
    ))
    return {"query": result.query, "k": result.k, "passages": [passage_to_dict(p) for p in result.passages]}
