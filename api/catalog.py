"""Read-only views of the loaded index: documents, turns, speakers, and the passage around a quote."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from api.errors import InvalidRange
from rag.answering.output import document_to_dict
from rag.models import DocumentSummary, Transcript, Turn

CONTEXT_RADIUS = 600
_SENTENCE_START = re.compile(r"(?<=[.!?…”\"])\s+(?=\S)|\n\s*")


def document_summaries(summaries: list[DocumentSummary]) -> list[dict[str, Any]]:
    return [document_to_dict(summary) for summary in summaries]


def document_detail(summary: DocumentSummary, transcript: Transcript) -> dict[str, Any]:
    """The transcript's stored text and turns, with its summary."""
    return {
        **document_to_dict(summary),
        "text": transcript.text,
        "turns": [{**asdict(turn), "flags": list(turn.flags)} for turn in transcript.turns],
    }


def quote_context(transcript: Transcript, start: int, end: int, radius: int = CONTEXT_RADIUS) -> dict[str, Any]:
    """The passage of the turn around ``[start:end)``, cut at sentence boundaries where possible.

    :raises InvalidRange: the offsets are reversed, outside the text, or not inside one turn.
    """
    document = transcript.id
    if not 0 <= start < end <= len(transcript.text):
        raise InvalidRange(
            f"start={start}, end={end} is not a range inside {document!r} (0 <= start < end <= {len(transcript.text)})"
        )
    turn = transcript.turn_at(start, end)
    if turn is None:
        raise InvalidRange(f"start={start}, end={end} does not fall inside the spoken text of one turn of {document!r}")
    low, high = _window(transcript.text, turn, start, end, radius)
    return {
        "document": document,
        "turn": turn.index,
        "speaker": turn.speaker,
        "label": turn.label,
        "text": transcript.text[low:high],
        "offset": low,
    }


def _window(text: str, turn: Turn, start: int, end: int, radius: int) -> tuple[int, int]:
    low = max(turn.char_start, start - radius)
    high = min(turn.char_end, end + radius)
    if low > turn.char_start:
        # Begin at the first sentence start after ``low`` (never after the quote itself).
        match = _SENTENCE_START.search(text, low, start)
        low = match.end() if match else low
    if high < turn.char_end:
        # End at the last sentence end before ``high`` (never before the quote's end).
        ends = [m.start() for m in _SENTENCE_START.finditer(text, end, high)]
        high = ends[-1] if ends else high
    return low, high
