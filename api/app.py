"""The FastAPI application: state loaded in the lifespan, middleware, routers, error handlers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi_offline import FastAPIOffline
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute
from starlette.types import Scope

from api.deps import require_read_key
from api.errors import install_error_handlers
from api.jobs import JobRegistry
from api.limits import DOCS_ASSETS, BodyLimitMiddleware, RateLimitMiddleware, TokenBucketLimiter
from api.metrics import Metrics, MetricsMiddleware
from api.origins import HostGuardMiddleware, OriginGuardMiddleware
from api.routes import ROUTERS
from api.schemas import DocumentIn, TokenEvent
from rag.engine import Engine, disk_stamp
from rag.errors import VerbatimError
from rag.settings import Settings

logger = logging.getLogger("verbatim.api")

DESCRIPTION = """Answers about speech transcripts told only in the speakers' own words.

Every citation is verified against the transcript: `original_text[char_start:char_end] == quote`.
Errors always have the body `{"error": {"type": ..., "message": ...}}`."""


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the service.

    :param settings: HTTP settings (keys, CORS, limits) and, unless ``engine`` is given, where
        the index is; ``Settings()`` (the environment) by default.
    :param engine: an already loaded engine (tests share one); otherwise the lifespan loads it.
        If loading fails the service still starts: ``/healthz`` answers and everything that
        needs the index returns 503 with the reason.
    :raises ValueError: ``reads_require_key`` without an ``api_key``.
    """
    settings = settings or Settings()
    if settings.reads_require_key and settings.api_key is None:
        raise ValueError("VERBATIM_READS_REQUIRE_KEY needs VERBATIM_API_KEY")
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.write_lock = asyncio.Lock()
        app.state.engine = engine
        app.state.load_error = None
        if app.state.engine is None:
            try:
                app.state.engine = await anyio.to_thread.run_sync(Engine.load, settings)
            except VerbatimError as exc:
                app.state.load_error = f"{type(exc).__name__}: {exc}"
                logger.error("the index could not be loaded: %s", app.state.load_error)
        if app.state.engine is not None:
            try:  # build the configured generator now, so that /readyz means it
                await anyio.to_thread.run_sync(app.state.engine.generator)
            except VerbatimError as exc:
                app.state.load_error = f"{type(exc).__name__}: {exc}"
                app.state.engine = None
                logger.error("the generator could not be built: %s", app.state.load_error)
        watcher = asyncio.create_task(_follow_index(app, settings))
        try:
            yield
        finally:
            watcher.cancel()

    # /docs with Swagger UI's script and style served by the app itself (from the fastapi-offline
    # package): FastAPI's own page loads them from a CDN and stays blank offline. No /redoc: the
    # ReDoc bundle fetches its logo from cdn.redoc.ly on every view.
    app = FastAPIOffline(
        title="Verbatim", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
        redoc_url=None, static_url=DOCS_ASSETS,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.jobs = JobRegistry(settings.upload_jobs_kept)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    # Added innermost first: a request passes metrics -> host guard -> origin guard -> CORS -> rate limit
    # -> body limit.
    app.add_middleware(BodyLimitMiddleware, limit_for=_body_limit(settings))
    app.add_middleware(RateLimitMiddleware, limiter=TokenBucketLimiter(settings.rate_limit_per_minute), metrics=metrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", "Accept"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    app.add_middleware(OriginGuardMiddleware, allowed_origins=settings.cors_origins)
    app.add_middleware(HostGuardMiddleware, allowed_hosts=[*settings.allowed_hosts, settings.host])
    app.add_middleware(
        MetricsMiddleware, metrics=metrics, routes=[route for router in ROUTERS for route in router.routes]
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options that make the client address (rate limit, logs) the socket's peer,
    unless the peer is one of ``trusted_proxies``: uvicorn's own default trusts any
    ``X-Forwarded-For`` from loopback, which lets one client rotate through rate-limit buckets."""
    trusted = list(settings.trusted_proxies)
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}


async def _follow_index(app: FastAPI, settings: Settings) -> None:
    """Pick up what ``rag ingest`` (another process) committed, without a restart.

    Uploads through this service reload at once; this catches every other writer, and an index
    that did not exist when the service started.
    """
    tried = disk_stamp(settings, settings.index_path)
    while True:
        await asyncio.sleep(settings.reload_poll_s)
        async with app.state.write_lock:
            try:
                if app.state.engine is None:
                    stamp = disk_stamp(settings, settings.index_path)
                    if stamp == tried:
                        continue
                    tried = stamp
                    app.state.engine = await anyio.to_thread.run_sync(Engine.load, settings)
                    await anyio.to_thread.run_sync(app.state.engine.generator)
                    app.state.load_error = None
                    logger.info("the index is loaded")
                elif await anyio.to_thread.run_sync(app.state.engine.reload_if_changed):
                    logger.info("reloaded the index: %d documents", app.state.engine.status().documents)
            except VerbatimError as exc:
                # A half-finished or broken index on disk: keep serving what was loaded.
                if app.state.engine is None:
                    app.state.load_error = f"{type(exc).__name__}: {exc}"
                logger.warning("the index on disk cannot be loaded yet: %s", exc)


def _body_limit(settings: Settings) -> Callable[[Scope], int]:
    def limit_for(scope: Scope) -> int:
        if scope["path"] == "/documents" and scope["method"] == "POST":
            return settings.max_upload_bytes
        return settings.max_request_bytes

    return limit_for


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, plus the models routes do not declare themselves (the upload body,
    which the route reads itself; the data of stream events), and security only where it applies."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, definitions = models_json_schema(
            [(DocumentIn, "validation"), (TokenEvent, "serialization")], ref_template="#/components/schemas/{model}"
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions.get("$defs", {}))
        if not app.state.settings.reads_require_key:
            _open_reads(schema, app.routes)
        app.openapi_schema = schema
    return app.openapi_schema


def _open_reads(schema: dict[str, Any], routes: list[BaseRoute]) -> None:
    """Reads are open unless ``reads_require_key``: say so, rather than the key check's declared security."""
    for route in iter_route_contexts(routes):  # included routers' routes, with their routers' dependencies
        if isinstance(route.original_route, APIRoute) and any(
            dependency.call is require_read_key for dependency in route.dependant.dependencies
        ):
            for method in route.methods or ():
                schema["paths"][route.path_format][method.lower()].pop("security", None)
