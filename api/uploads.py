"""Uploading and deleting transcripts: parse, embed, then write under the lock, then reload.

A transcript that does not parse is refused before anything is written. The library's ingest
and delete take the index's file lock and swap the manifest atomically, so a failure at any
step leaves the previous index in place; the in-process lock serialises writers and the engine
reload that follows each write.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import anyio
from pydantic import ValidationError

from api.errors import InvalidJSON, InvalidRequest, UnsupportedMediaType
from api.jsonbody import loads_strict
from api.schemas import DOCUMENT_ID_PATTERN, DocumentIn
from rag.engine import Engine
from rag.models import Transcript
from rag.answering.output import document_to_dict
from rag.formats import parse_transcript

_DOCUMENT_ID = re.compile(DOCUMENT_ID_PATTERN)


# A transcript file sent as it is: its media type names its format.
FILE_MEDIA_TYPES = {
    "text/plain": None,  # text, or captions recognised by their content
    "text/markdown": "text",
    "text/vtt": "vtt",
    "application/x-subrip": "srt",
    "text/srt": "srt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}


def parse_upload(body: bytes, content_type: str, document_id: str | None, format: str | None = None) -> Transcript:
    """A ``Transcript`` from an upload body.

    ``application/json``: a ``DocumentIn`` object, unless ``format`` is given. Any media type of
    ``FILE_MEDIA_TYPES``, or any body with ``format`` (e.g. ``json`` for diarized ASR output): the
    transcript file itself, its id in the ``id`` query parameter.

    :raises UnsupportedMediaType, InvalidJSON, InvalidRequest: a malformed request.
    :raises TranscriptError: the transcript cannot be parsed (the reader's own message).
    """
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json" and format is None:
        document = _document_in(body)
        if document_id is not None and document_id != document.id:
            raise InvalidRequest(f"the id in the query ({document_id!r}) differs from the body's ({document.id!r})")
        source = document.source or f"upload:{document.id}"
        if document.turns is not None:
            turns = json.dumps([turn.model_dump() for turn in document.turns], ensure_ascii=False)
            return parse_transcript(turns, document.id, source=source)
        assert document.text is not None
        return parse_transcript(document.text, document.id, source=source)
    if media in FILE_MEDIA_TYPES or format is not None:
        if document_id is None:
            raise InvalidRequest("a transcript file upload needs the document id in the query: POST /documents?id=<id>")
        if not _DOCUMENT_ID.match(document_id):
            raise InvalidRequest(f"id: {document_id!r} is not a valid document id (letters, digits, '.', '_', '-')")
        return parse_transcript(
            body, document_id, source=f"upload:{document_id}", format=format or FILE_MEDIA_TYPES[media]
        )
    raise UnsupportedMediaType(
        f"upload a transcript as application/json, {', '.join(FILE_MEDIA_TYPES)}, or with ?format=, "
        f"not {content_type or 'no Content-Type'!r}"
    )


def _document_in(body: bytes) -> DocumentIn:
    try:
        raw = loads_strict(body)
    except json.JSONDecodeError as exc:
        raise InvalidJSON(f"the request body is not valid JSON: {exc.msg} (at character {exc.pos})") from exc
    try:
        document = DocumentIn.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise InvalidRequest(problems) from exc
    if (document.text is None) == (document.turns is None):
        raise InvalidRequest(
            "send exactly one of 'text' (press-style transcript) or 'turns' (a list of {speaker, text})"
        )
    return document


async def ingest_upload(
    engine: Engine, transcript: Transcript, lock: asyncio.Lock
) -> tuple[str, dict[str, Any], float]:
    """Index ``transcript`` and reload the engine; returns the status, the record and the seconds taken.

    Chunking and embedding (the slow part) run before the lock is taken, so that other writers
    and the index watcher wait only for the write and the reload.
    """
    started = time.perf_counter()
    prepared = await anyio.to_thread.run_sync(engine.prepare, transcript)
    async with lock:
        report, summary = await anyio.to_thread.run_sync(engine.commit, prepared)
    status = "added" if report.added else "replaced" if report.replaced else "unchanged"
    return status, document_to_dict(summary), round(time.perf_counter() - started, 3)


async def delete_document(engine: Engine, document_id: str, lock: asyncio.Lock) -> None:
    """Remove a document from the index on disk and reload. :raises UnknownDocument:"""
    engine.transcript(document_id)
    async with lock:
        await anyio.to_thread.run_sync(engine.remove, document_id)
