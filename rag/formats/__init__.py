"""Transcripts in, speaker turns out: one reader per format, chosen by extension or content.

=======  ===================  ==========================================================
name     extensions           what it reads
=======  ===================  ==========================================================
text     .txt .md             press-style text with a header (``rag.formats.text``)
vtt      .vtt                 WebVTT captions, voice spans or ``Name:`` cues
srt      .srt                 SubRip captions, the name on a turn's first cue
json     .json                JSON turns, WhisperX segments, AssemblyAI utterances
docx     .docx                Word documents, read as text
=======  ===================  ==========================================================

A file's extension picks its reader; without a known extension the content does (``WEBVTT``,
numbered SRT cues, JSON, a zip archive), and anything else is read as text. ``format=``
overrides both.
"""

from __future__ import annotations

from pathlib import Path

from rag.errors import TranscriptError
from rag.formats.base import SNIFF_BYTES, Reader
from rag.formats.captions import SRT, VTT
from rag.formats.diarized import JSON
from rag.formats.text import TEXT
from rag.formats.word import DOCX
from rag.models import Transcript

__all__ = ["FORMAT_NAMES", "SUFFIXES", "document_id_for", "parse_transcript", "read_transcript"]

_READERS: dict[str, Reader] = {reader.name: reader for reader in (TEXT, VTT, SRT, JSON, DOCX)}
FORMAT_NAMES: tuple[str, ...] = tuple(_READERS)
SUFFIXES: tuple[str, ...] = tuple(suffix for reader in _READERS.values() for suffix in reader.suffixes)
# Sidecars such as QMSum's ``covid_2.turns.json`` name the same document as ``covid_2.txt``.
_ID_SUFFIXES = (".turns.json", *SUFFIXES)


def document_id_for(path: Path) -> str:
    """A document's id: its file name without extensions, e.g. ``covid_2``."""
    name = path.name
    for suffix in _ID_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_transcript(path: Path, document_id: str | None = None, format: str | None = None) -> Transcript:
    """Read and parse a transcript file.

    :param path: a transcript in any format of ``FORMAT_NAMES``.
    :param document_id: the id to store it under; the file name without extension by default.
    :param format: a name from ``FORMAT_NAMES``; by default the extension, then the content, decides.
    :returns: the parsed transcript.
    :raises TranscriptError: unreadable, an unknown format, or content the format's reader refuses.

    Example: ``read_transcript(Path("briefing.vtt")).turns[0].media_start``
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(f"cannot read file ({exc.strerror})", source=str(path)) from exc
    return parse_transcript(
        data, document_id or document_id_for(path), source=str(path), format=format, filename=path.name
    )


def parse_transcript(
    data: bytes | str,
    document_id: str,
    *,
    source: str = "",
    format: str | None = None,
    filename: str | None = None,
) -> Transcript:
    """Parse transcript content into turns, with the reader ``format`` names or one chosen for it.

    :param data: the content; bytes are decoded as UTF-8 (a .docx must be bytes).
    :param document_id: the id the transcript gets.
    :param source: where the content came from, named in errors (the document id by default).
    :param format: a name from ``FORMAT_NAMES``, overriding the choice by extension and content.
    :param filename: a file name whose extension chooses the reader.
    :raises TranscriptError: an unknown format, or content the reader refuses (binary, not
        UTF-8, empty, no speaker, malformed captions or JSON), naming the source and line.
    """
    where = source or document_id
    reader = _reader_for(data, format, filename, where)
    return reader.parse(data, document_id, where)


def _reader_for(data: bytes | str, format: str | None, filename: str | None, source: str) -> Reader:
    if format is not None:
        if format not in _READERS:
            raise TranscriptError(f"unknown format {format!r} (choose from {', '.join(FORMAT_NAMES)})", source=source)
        return _READERS[format]
    if filename:
        lowered = filename.lower()
        for reader in _READERS.values():
            if lowered.endswith(reader.suffixes):
                return reader
    head = data[:SNIFF_BYTES].encode("utf-8") if isinstance(data, str) else data[:SNIFF_BYTES]
    # Text recognises nothing in particular: it reads whatever no other reader claims.
    return next((reader for reader in _READERS.values() if reader.sniff(head)), TEXT)
