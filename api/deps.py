"""``Depends`` aliases: what routes get from the app's state, and the API-key checks."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import InvalidApiKey, MissingApiKey, NotReady, WritesDisabled
from api.jobs import JobRegistry
from api.metrics import Metrics
from rag.engine import Engine
from rag.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <VERBATIM_API_KEY>")
_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <VERBATIM_API_KEY>")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_engine(request: Request) -> Engine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        reason = getattr(request.app.state, "load_error", None) or "the service is starting"
        raise NotReady(f"the index is not loaded: {reason}")
    return engine


def get_write_lock(request: Request) -> asyncio.Lock:
    return request.app.state.write_lock


def get_jobs(request: Request) -> JobRegistry:
    return request.app.state.jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
EngineDep = Annotated[Engine, Depends(get_engine)]
WriteLockDep = Annotated[asyncio.Lock, Depends(get_write_lock)]
JobsDep = Annotated[JobRegistry, Depends(get_jobs)]


def _presented_key(bearer: HTTPAuthorizationCredentials | None, header_key: str | None) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return header_key or None


def _check_key(presented: str | None, settings: Settings) -> None:
    assert settings.api_key is not None
    if presented is None:
        raise MissingApiKey(
            "this endpoint needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = settings.api_key.get_secret_value().encode("utf-8")
    if not hmac.compare_digest(presented.encode("utf-8"), expected):
        raise InvalidApiKey("the API key is not valid", headers={"WWW-Authenticate": "Bearer"})


def require_write_key(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_key_header)],
) -> None:
    """Uploads and deletes: always keyed; refused outright when no key is configured."""
    if settings.api_key is None:
        raise WritesDisabled("uploads and deletes are disabled: the service has no API key (VERBATIM_API_KEY)")
    _check_key(_presented_key(bearer, header_key), settings)


def require_read_key(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_key_header)],
) -> None:
    """Questions, search and reads: keyed only when ``reads_require_key`` is set."""
    if settings.reads_require_key:
        _check_key(_presented_key(bearer, header_key), settings)


ReadAccess = Depends(require_read_key)
WriteAccess = Depends(require_write_key)
