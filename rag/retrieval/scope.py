"""Which documents a question is about: explicit filters, and the place or date a question names.

"What did Kerry say about Syria in Rome?" over an index of many press conferences is about the
one held in Rome; "in July 2016" about those of that month. A question is narrowed only when
what it names matches some documents' metadata (place, venue, an event in the title, the date)
and not all of them: a place that no header mentions stays part of the topic. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from rag.models import DocumentRecord

_MONTHS = {
    name: number
    for number, names in enumerate(
        (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
         ("november", "nov"), ("december", "dec")),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_MENTIONS = (
    # "on December 18, 2015", "December 18 2015"
    re.compile(rf"\b(?:on\s+)?{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b", re.I),
    # "on 18 December 2015"
    re.compile(rf"\b(?:on\s+)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\s+(?P<year>(?:19|20)\d\d)\b", re.I),
    # "in July 2016"
    re.compile(rf"\b(?:in\s+)?{_MONTH},?\s+(?P<year>(?:19|20)\d\d)\b", re.I),
    # "in 2016"
    re.compile(r"\b(?:in|during|from)\s+(?P<year>(?:19|20)\d\d)\b", re.I),
    # "2015-12-18"
    re.compile(r"\b(?:on\s+)?(?P<iso>(?:19|20)\d\d-\d\d-\d\d)\b"),
)
# "in Rome", "at the Lima meeting", "from Moscow": a capitalised name after a preposition of place.
_PLACE_MENTION = re.compile(
    r"\b(?:in|at|from|during)\s+(?:the\s+)?(?P<name>[A-Z][\w'’\-]+(?:\s+[A-Z][\w'’\-]+){0,3})"
    r"(?P<event>\s+(?:meeting|meetings|conference|summit|talks|briefing|press\s+conference|visit|trip))?"
)
_ID_DATE = re.compile(r"((?:19|20)\d\d)-(\d\d)-(\d\d)")


@dataclass(frozen=True)
class Scope:
    """The documents a question is confined to (``None``: all), and the words that named them."""

    documents: tuple[str, ...] | None = None
    named: str = ""
    topic: str = ""


def filter_documents(
    records: Iterable[DocumentRecord],
    *,
    document: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    place: str | None = None,
) -> tuple[str, ...] | None:
    """Documents passing every explicit filter (ISO dates inclusive; place matched in place, venue, title).

    ``None`` when no filter is set; an empty tuple when filters exclude everything.
    """
    if not any((document, date_from, date_to, place)):
        return None
    chosen = []
    for record in records:
        when = document_date(record)
        if document and record.id != document:
            continue
        if (date_from or date_to) and when is None:
            continue
        if date_from and when < date_from:
            continue
        if date_to and when > date_to:
            continue
        if place and not _mentions(record, place):
            continue
        chosen.append(record.id)
    return tuple(chosen)


def scope_of(question: str, records: Sequence[DocumentRecord]) -> Scope:
    """The documents ``question`` names by date or place, when that narrows the index down."""
    if len(records) < 2:
        return Scope(topic=question)
    topic, named, candidates = question, [], {record.id for record in records}
    for pattern in _DATE_MENTIONS:
        match = pattern.search(topic)
        if not match:
            continue
        prefix = _date_prefix(match)
        dated = {r.id for r in records if (document_date(r) or "").startswith(prefix)}
        if dated and dated != candidates:
            candidates &= dated
            named.append(match.group(0).strip())
            topic = _cut(topic, match)
        break
    for match in _PLACE_MENTION.finditer(topic):
        name = match.group("name")
        placed = {r.id for r in records if _mentions(r, name, in_title=bool(match.group("event")))}
        if placed and placed != {r.id for r in records} and placed & candidates:
            candidates &= placed
            named.append(match.group(0).strip())
            topic = _cut(topic, match)
            break
    if not named:
        return Scope(topic=question)
    return Scope(tuple(sorted(candidates)), " ".join(named), " ".join(topic.split()))


def document_date(record: DocumentRecord) -> str | None:
    """The document's ISO date: its header's, else one in its id (``kerry-lavrov-moscow-2015-12-15``)."""
    if record.date:
        return record.date
    match = _ID_DATE.search(record.id)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
    except ValueError:
        return None


def describe(record: DocumentRecord) -> str:
    """A document as a person would name it: title, then date and place."""
    details = ", ".join(part for part in (document_date(record), record.place) if part)
    title = record.title or record.id
    return f"{title} ({details})" if details else title


def _date_prefix(match: re.Match) -> str:
    groups = match.groupdict()
    if groups.get("iso"):
        return groups["iso"]
    prefix = groups["year"]
    if groups.get("month"):
        prefix += f"-{_MONTHS[groups['month'].lower().rstrip('.')]:02d}"
        if groups.get("day"):
            prefix += f"-{int(groups['day']):02d}"
    return prefix


def _mentions(record: DocumentRecord, name: str, *, in_title: bool = False) -> bool:
    """Whether the record's place or venue (or, for an event, its title; or its id) names ``name``."""
    wanted = name.lower()
    fields = [record.place, record.venue, record.id.replace("-", " ").replace("_", " ")]
    if in_title:
        fields.append(record.title)
    return any(re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", field.lower()) for field in fields if field)


def _cut(text: str, match: re.Match) -> str:
    return text[: match.start()] + " " + text[match.end() :]
