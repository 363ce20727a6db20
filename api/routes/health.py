"""``/healthz`` (alive), ``/readyz`` (index and generator loaded), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.deps import MetricsDep, get_engine
from api.schemas import HealthPublic, ReadyPublic, error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic, summary="The process is alive")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyPublic,
    responses=error_responses(503),
    summary="The index and the configured generator are loaded",
)
async def readyz(request: Request) -> dict[str, Any]:
    engine = get_engine(request)
    generator = engine.generator()
    status = engine.status()
    return {
        "status": "ready",
        "documents": status.documents,
        "chunks": status.chunks,
        "generator": generator.name,
        "index_generation": status.generation,
    }


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {}}, "description": "Text exposition format 0.0.4."}},
)
async def metrics(registry: MetricsDep) -> PlainTextResponse:
    return PlainTextResponse(registry.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
