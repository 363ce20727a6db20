"""Sentence boundaries as character spans: pure functions shared by chunking and answering."""

from __future__ import annotations

import re

from rag.formats.labels import STAGE_DIRECTION

# Abbreviations that end with a period without ending the sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof hon st mt gen gov sen rep jr sr vs etc no nos u.s u.n u.k e.g i.e
    a.m p.m jan feb mar apr jun jul aug sep sept oct nov dec lt col capt sgt rt""".split()
)
# Greetings and thanks are sentences too, but never an answer.
MIN_QUOTE_CHARS = 25
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n[ \t]*\n")


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Split ``text`` into sentences; spans are ``(start, end)`` shifted by ``offset``.

    Spans exclude surrounding whitespace and a leading stage direction such as
    "(Via interpreter)", and a stage direction standing alone ("(Laughter.)") is no
    sentence at all, so each span is text that someone actually said.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group().strip() and _ends_with_abbreviation(text, match.start()):
            continue
        end = match.end() if match.group().strip() else match.start()
        _append_trimmed(text, start, end, spans)
        start = match.end()
    _append_trimmed(text, start, len(text), spans)
    return [(s + offset, e + offset) for s, e in spans]


def quotable_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """The spans of ``text``'s sentences long enough to be an answer's quotation (see ``sentence_spans``)."""
    return [(start, end) for start, end in sentence_spans(text, offset) if end - start >= MIN_QUOTE_CHARS]


def _ends_with_abbreviation(text: str, period_at: int) -> bool:
    if text[period_at] != ".":
        return False
    word_start = period_at
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:period_at].lower().lstrip("(\"'“‘")
    # Single capitals are initials ("John F. Kennedy"), not sentence ends.
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    direction = STAGE_DIRECTION.match(text, start, end)
    if direction:
        start = direction.end()
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
