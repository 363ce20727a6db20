"""Word documents (.docx): the paragraphs' text, then the plain-text rules."""

from __future__ import annotations

import io
import zipfile

from rag.errors import TranscriptError
from rag.formats.base import Reader
from rag.formats.text import transcript_from_text
from rag.models import Transcript

_ZIP_SIGNATURE = b"PK\x03\x04"
_PARAGRAPH_BREAK = "\n\n"


def parse_docx(data: bytes | str, document_id: str, source: str) -> Transcript:
    """Parse a .docx transcript: non-empty paragraphs joined by blank lines are the stored text.

    :raises TranscriptError: not a readable .docx file, or no text in it.
    """
    if isinstance(data, str):
        raise TranscriptError("a .docx transcript must be given as bytes, not text", source=source)
    # python-docx pulls in lxml: loaded only when a Word file is actually read.
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise TranscriptError(f"not a readable .docx file ({exc})", source=source) from exc
    paragraphs = [paragraph.text.strip() for paragraph in document.paragraphs]
    text = _PARAGRAPH_BREAK.join(paragraph for paragraph in paragraphs if paragraph)
    if not text:
        raise TranscriptError("the transcript is empty", source=source)
    return transcript_from_text(text + "\n", document_id, source, reader=DOCX.name)


def _sniff_docx(head: bytes) -> bool:
    return head.startswith(_ZIP_SIGNATURE)


DOCX = Reader(name="docx", suffixes=(".docx",), parse=parse_docx, sniff=_sniff_docx)
