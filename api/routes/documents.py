"""Documents and speakers: list, read, the passage around a quote, upload (or its job), delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api.catalog import CONTEXT_RADIUS, document_detail, document_summaries, quote_context
from api.deps import EngineDep, JobsDep, ReadAccess, SettingsDep, WriteAccess, WriteLockDep
from api.schemas import (
    ContextPublic,
    DocumentDetail,
    DocumentList,
    FormatName,
    JobPublic,
    SpeakerList,
    UploadResult,
    error_responses,
)
from api.uploads import delete_document, ingest_upload, parse_upload
from rag.answering.output import person_to_dict

router = APIRouter(tags=["documents"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/DocumentIn"}},
            "text/plain": {"schema": {"type": "string", "description": "A transcript file; pass ?id=<id>."}},
            "text/vtt": {"schema": {"type": "string", "description": "WebVTT captions; pass ?id=<id>."}},
            "application/x-subrip": {"schema": {"type": "string", "description": "SRT captions; pass ?id=<id>."}},
        },
    }
}


@router.get(
    "/documents",
    response_model=DocumentList,
    dependencies=[ReadAccess],
    responses=error_responses(401, 429, 503),
    summary="The indexed documents",
)
async def list_documents(engine: EngineDep) -> dict[str, Any]:
    return {"documents": document_summaries(engine.documents())}


@router.get(
    "/documents/{document_id}",
    response_model=DocumentDetail,
    dependencies=[ReadAccess],
    responses=error_responses(401, 404, 422, 429, 503),
    summary="A document's text and speaker turns",
)
async def get_document(document_id: str, engine: EngineDep) -> dict[str, Any]:
    """Every offset in the API refers to this `text`; each turn's `text` is `text[char_start:char_end]`."""
    return document_detail(*engine.document(document_id))


@router.get(
    "/documents/{document_id}/context",
    response_model=ContextPublic,
    dependencies=[ReadAccess],
    responses=error_responses(401, 404, 422, 429, 503),
    summary="The passage around a quotation",
)
async def get_context(
    document_id: str,
    engine: EngineDep,
    start: Annotated[int, Query(ge=0, description="The quote's char_start.")],
    end: Annotated[int, Query(ge=1, description="The quote's char_end.")],
    radius: Annotated[int, Query(ge=0, le=20_000, description="Characters of context on each side.")] = CONTEXT_RADIUS,
) -> dict[str, Any]:
    """The turn's text around `[start:end)`; `text[start - offset:end - offset]` is the quote."""
    return quote_context(engine.transcript(document_id), start, end, radius)


@router.get(
    "/speakers",
    response_model=SpeakerList,
    dependencies=[ReadAccess],
    responses=error_responses(401, 404, 422, 429, 503),
    summary="People who speak, each once across documents, with their labels, roles and documents",
)
async def list_speakers(
    engine: EngineDep, document: Annotated[str | None, Query(description="Only this document.")] = None
) -> dict[str, Any]:
    return {"speakers": [person_to_dict(person) for person in engine.speakers(document)]}


@router.post(
    "/documents",
    status_code=201,
    response_model=UploadResult,
    dependencies=[WriteAccess],
    responses={
        202: {
            "model": JobPublic,
            "description": "A large upload: indexed in the background; poll the job at the Location header.",
            "headers": {"Location": {"description": "The job: /jobs/{id}.", "schema": {"type": "string"}}},
        },
        **error_responses(400, 401, 403, 413, 415, 422, 429, 503),
    },
    openapi_extra=_UPLOAD_BODY,
    summary="Upload a transcript (needs the API key)",
)
async def upload_document(
    request: Request,
    engine: EngineDep,
    lock: WriteLockDep,
    jobs: JobsDep,
    settings: SettingsDep,
    id: Annotated[str | None, Query(description="The document id (for transcript file uploads).")] = None,
    format: Annotated[
        FormatName | None, Query(description="Read the body as this format (default: by media type, then content).")
    ] = None,
) -> Any:
    """JSON `{id, text}` or `{id, turns: [{speaker, text}]}`, or a transcript file with `?id=`: text/plain,
    text/vtt, application/x-subrip, a .docx, or any body with `?format=` (e.g. `json` for WhisperX or
    AssemblyAI output). An existing id is replaced; identical content is left unchanged. A body larger than
    `VERBATIM_UPLOAD_JOB_MIN_BYTES` is checked, then indexed in the background: 202 and a job."""
    body = await request.body()
    transcript = parse_upload(body, request.headers.get("content-type", ""), id, format)

    async def upload() -> dict[str, Any]:
        status, record, seconds = await ingest_upload(engine, transcript, lock)
        return {"status": status, "document": record, "seconds": seconds}

    if len(body) <= settings.upload_job_min_bytes:
        return await upload()
    job = jobs.start(upload)
    return JSONResponse(job.public(), status_code=202, headers={"Location": f"/jobs/{job.id}"})


@router.get(
    "/jobs/{job_id}",
    response_model=JobPublic,
    dependencies=[WriteAccess],
    responses=error_responses(401, 403, 404, 422, 429),
    summary="A background upload: pending, running, done (with the result) or failed (with the error)",
)
async def get_job(job_id: str, jobs: JobsDep) -> dict[str, Any]:
    return jobs.get(job_id).public()


@router.delete(
    "/documents/{document_id}",
    status_code=204,
    dependencies=[WriteAccess],
    responses=error_responses(401, 403, 404, 422, 429, 503),
    summary="Delete a document (needs the API key)",
)
async def remove(document_id: str, engine: EngineDep, lock: WriteLockDep) -> Response:
    await delete_document(engine, document_id, lock)
    return Response(status_code=204)
