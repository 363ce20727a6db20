"""JSON transcripts: turns as ``{speaker, text}``, or diarized ASR output with times.

Three shapes are understood:

* a list of turns, or ``{"turns": [...]}``: ``speaker`` (or ``label``) and ``text``, with
  optional ``start``/``end`` in seconds;
* WhisperX-like ``{"segments": [...]}``: ``speaker``, ``text``, ``start``, ``end`` in seconds;
* AssemblyAI-like ``{"utterances": [...]}``: ``speaker``, ``text``, ``start``, ``end`` in milliseconds.

Speaker ids such as ``SPEAKER_00`` stay as they are. Timed pieces join into turns as
captions do (``rag.formats.timeline``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rag.errors import TranscriptError
from rag.formats.base import Reader, decode_text
from rag.formats.jsontext import loads_strict
from rag.formats.timeline import Utterance, transcript_from_utterances
from rag.models import Transcript

# Each shape: the key holding its list, what one item is called in errors, whether times are
# required, and how many of its time units make a second.
_SHAPES = {
    "turns": ("turn", False, 1.0),
    "segments": ("segment", True, 1.0),
    "utterances": ("utterance", True, 1000.0),
}
_JSON_START = re.compile(rb"\s*(?:\{|\[\s*[{\]])")


def parse_json(data: bytes | str, document_id: str, source: str) -> Transcript:
    """Parse a JSON transcript; see the module docstring."""
    text = decode_text(data, source)
    try:
        document = loads_strict(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"invalid JSON ({exc.msg})", source=source, line=exc.lineno) from exc
    key, items = _items(document, source)
    noun, timed, units = _SHAPES[key]
    utterances = [_utterance(item, position, noun, timed, units, source) for position, item in enumerate(items)]
    return transcript_from_utterances(utterances, document_id, source, reader=JSON.name)


def _items(document: Any, source: str) -> tuple[str, list]:
    """Which shape the document has, and its list of items."""
    if isinstance(document, list):
        key, items = "turns", document
    else:
        key = next((name for name in _SHAPES if isinstance(document, dict) and name in document), None)
        if key is None:
            shapes = ", ".join(repr(name) for name in _SHAPES)
            raise TranscriptError(
                f"JSON transcript must be a list of turns or an object with one of {shapes}", source=source
            )
        items = document[key]
    if not isinstance(items, list) or not items:
        raise TranscriptError(f"JSON transcript must be a non-empty list of {key}", source=source)
    return key, items


def _utterance(item: Any, position: int, noun: str, timed: bool, units: float, source: str) -> Utterance:
    if not isinstance(item, dict):
        raise TranscriptError(f"{noun} {position} is not an object", source=source)
    if "text" not in item:
        raise TranscriptError(f"{noun} {position} has no 'text' field", source=source)
    if not isinstance(item["text"], str | None):
        raise TranscriptError(f"{noun} {position} has a 'text' that is not a string", source=source)
    # Diarizers may number speakers from 0, so only a missing or blank speaker is none.
    raw = item.get("speaker", item.get("label"))
    if not isinstance(raw, str | int | None) or isinstance(raw, bool):
        raise TranscriptError(f"{noun} {position} has a speaker that is neither a name nor a number", source=source)
    speaker = "" if raw is None else str(raw).strip()
    if not speaker:
        raise TranscriptError(f"{noun} {position} has no speaker", source=source)
    start = _seconds(item, "start", position, noun, timed, units, source)
    end = _seconds(item, "end", position, noun, timed, units, source)
    if start is not None and end is not None and end < start:
        raise TranscriptError(f"{noun} {position} ends before it starts", source=source)
    return Utterance(speaker, item["text"] or "", start, end)


def _seconds(item: dict, key: str, position: int, noun: str, required: bool, units: float, source: str) -> float | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        problem = "has no" if value is None else "has an invalid"
        raise TranscriptError(f"{noun} {position} {problem} '{key}' time", source=source)
    return value / units


def _sniff_json(head: bytes) -> bool:
    return _JSON_START.match(head.removeprefix(b"\xef\xbb\xbf")) is not None


JSON = Reader(name="json", suffixes=(".json",), parse=parse_json, sniff=_sniff_json)
