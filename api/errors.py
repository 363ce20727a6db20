"""The service's own errors, and the handlers that turn every error into ``{"error": {type, message}}``.

Our exception hierarchy (the domain errors of ``rag.errors`` are mapped by class as well):

* ApiError                  - a request the service refuses; carries its HTTP status
  + InvalidJSON             - 400, the body is not JSON
  + HostNotAllowed          - 400, the Host header names a host the service does not answer to
  + MissingApiKey           - 401, the endpoint needs an API key and none was sent
  + InvalidApiKey           - 401, the API key sent is wrong
  + WritesDisabled          - 403, no API key is configured, so nothing may be written
  + OriginNotAllowed        - 403, a browser page from an origin that is not on the list
  + NotFound                - 404, no such route
  + ModelNotFound           - 404, an OpenAI-compatible request names an unknown model
  + JobNotFound             - 404, no upload job with this id
  + MethodNotAllowed        - 405
  + PayloadTooLarge         - 413, the body exceeds the configured limit
  + UnsupportedMediaType    - 415, wrong Content-Type
  + InvalidRequest          - 422, the body or the query does not follow the schema
  + InvalidRange            - 422, citation offsets outside the document or across turns
  + GeneratorUnavailable    - 422, the generator asked for is not configured here
  + RateLimited             - 429, too many requests from one client
  + NotReady                - 503, the index could not be loaded
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from rag.errors import (
    GeneratorError,
    IndexError_,
    ModelError,
    PromptError,
    QuestionError,
    TranscriptError,
    UnknownDocument,
    VerbatimError,
)

logger = logging.getLogger("verbatim.api")

# Domain errors by class; Starlette looks handlers up along the exception's MRO.
DOMAIN_STATUS: dict[type[VerbatimError], int] = {
    QuestionError: 422,
    TranscriptError: 422,
    UnknownDocument: 404,
    IndexError_: 503,
    ModelError: 503,
    GeneratorError: 502,
    PromptError: 500,
    VerbatimError: 500,
}


class ApiError(Exception):
    """A request the service refuses, with the status and the message to send back."""

    status: ClassVar[int] = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class InvalidJSON(ApiError):
    """The request body is not valid JSON."""

    status = 400


class HostNotAllowed(ApiError):
    """The ``Host`` header is not in ``allowed_hosts`` (a DNS-rebinding page, or a misrouted request)."""

    status = 400


class MissingApiKey(ApiError):
    """The endpoint needs an API key and none was sent."""

    status = 401


class InvalidApiKey(ApiError):
    """The API key sent does not match the configured one."""

    status = 401


class WritesDisabled(ApiError):
    """No API key is configured, so uploads and deletes are refused."""

    status = 403


class OriginNotAllowed(ApiError):
    """A browser page whose origin is not in ``cors_origins``."""

    status = 403


class NotFound(ApiError):
    """No route matches the path."""

    status = 404


class ModelNotFound(ApiError):
    """An OpenAI-compatible request names a model this service does not offer."""

    status = 404


class JobNotFound(ApiError):
    """No upload job with this id (finished jobs are forgotten after a while, and on restart)."""

    status = 404


class MethodNotAllowed(ApiError):
    """The route exists but not with this method."""

    status = 405


class PayloadTooLarge(ApiError):
    """The request body is larger than the configured limit."""

    status = 413


class UnsupportedMediaType(ApiError):
    """The request body has a Content-Type this endpoint does not read."""

    status = 415


class InvalidRequest(ApiError):
    """The body or the query parameters do not follow the schema."""

    status = 422


class InvalidRange(ApiError):
    """Character offsets outside the document, reversed, or spanning two turns."""

    status = 422


class GeneratorUnavailable(ApiError):
    """The generator asked for is not configured on this service."""

    status = 422


class RateLimited(ApiError):
    """Too many requests from one client; ``Retry-After`` says when to try again."""

    status = 429


class NotReady(ApiError):
    """The service is up but its index is not loaded."""

    status = 503


def error_body(type_name: str, message: str) -> dict[str, Any]:
    return {"error": {"type": type_name, "message": message}}


def error_response(error: ApiError) -> JSONResponse:
    """The JSON response for an ``ApiError`` (also used by the middlewares, outside the router)."""
    return JSONResponse(error_body(type(error).__name__, error.message), error.status, headers=error.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register one handler per error family, so that every non-2xx answer is our JSON shape."""
    app.add_exception_handler(ApiError, _api_error)
    for error_class in DOMAIN_STATUS:
        app.add_exception_handler(error_class, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for cls, code in DOMAIN_STATUS.items() if isinstance(exc, cls))
    if status >= 500:
        logger.warning("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    return JSONResponse(error_body(type(exc).__name__, str(exc)), status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(describe_validation_error(request, exc))


def describe_validation_error(request: Request, exc: RequestValidationError) -> ApiError:
    """One readable message for FastAPI's list of validation errors."""
    errors = list(exc.errors())
    content_type = request.headers.get("content-type", "")
    if any(e.get("loc", ())[:1] == ("body",) for e in errors) and content_type and not _is_json(content_type):
        return UnsupportedMediaType(f"expected Content-Type: application/json, got {content_type!r}")
    for error in errors:
        if error.get("type") == "json_invalid":
            detail = (error.get("ctx") or {}).get("error", "malformed")
            position = error.get("loc", ("body", 0))[-1]
            return InvalidJSON(f"the request body is not valid JSON: {detail} (at character {position})")
    messages = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc == ["body"] and error.get("type") == "missing":
            messages.append("the request body is missing (send a JSON object)")
        else:
            messages.append(f"{'.'.join(loc)}: {error.get('msg', 'invalid')}")
    return InvalidRequest("; ".join(messages) or "the request is invalid")


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(NotFound(f"no route for {request.method} {request.url.path}"))
    if exc.status_code == 405:
        # Starlette's own Allow names only the first route of the path: GET /documents hid POST.
        allow = ", ".join(_allowed_methods(request))
        return error_response(
            MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}", headers={"Allow": allow})
        )
    return JSONResponse(
        error_body("HTTPError", str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None)
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path."""
    routes = request.app.router.routes
    return [
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("InternalError", "internal server error"), 500)
