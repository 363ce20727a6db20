"""A transcript's front matter (title, date, place, venue, clock time) as ``DocumentMeta``: pure functions."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from rag.models import DocumentMeta

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_DATES = [
    re.compile(rf"\b{_MONTH} (?P<day>\d{{1,2}}),? (?P<year>\d{{4}})\b"),  # December 18, 2015
    re.compile(rf"\b(?P<day>\d{{1,2}}) {_MONTH},? (?P<year>\d{{4}})\b"),  # 18 December 2015
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b"),  # 2015-12-18
    re.compile(r"(?<![\d/])(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4}|\d{2})(?![\d/])"),  # 6/13/23
]
# Two-digit years ("6/13/23") are this century's: transcripts of the 1900s do not write them so.
_CENTURY = 2000
_CLOCK_TIME = re.compile(r"\b\d{1,2}:\d{2}\s*[AaPp]\.?\s?[Mm]\.?(?:\s+[A-Z]{2,4}\b)?")
# Words that name the building or room a transcript was recorded in.
_VENUE_WORDS = re.compile(
    r"\b(?:Room|Hotel|Hall|Center|Centre|Building|Auditorium|Chamber|Palace|Embassy|Residence|"
    r"Theater|Theatre|Library|Museum|Club|Stadium|Arena|Ballroom|Lounge|Studio|Campus|Capitol)\b"
)
# "New York, NY", "Moscow, Russia", "Washington, D.C.": a short line of two place names.
_PLACE = re.compile(r"[A-Z][\w.'’\-]*(?: [A-Z][\w.'’\-]*){0,3}, [A-Z][\w.'’\-]*(?: [A-Z][\w.'’\-]*){0,3}")
# "Date: December 18, 2015" and its kin, for headers written as fields.
_FIELD = re.compile(r"(?P<key>Title|Date|Place|Location|Venue|Time):[ \t]*(?P<value>\S.*)", re.IGNORECASE)
_FIELD_NAMES = {"location": "place"}


def parse_header(header: str) -> DocumentMeta:
    """What the lines before the first speaker say about the document.

    The first line is the title; a date anywhere (``December 18, 2015``, ``6/13/23``) becomes
    ISO ``YYYY-MM-DD``; a line with a clock reading is the time, a line naming a room or
    building the venue, a ``City, Region`` line the place. ``Key: value`` lines set a field.
    """
    lines = [line.strip() for line in header.splitlines() if line.strip()]
    fields: dict[str, str] = {}
    for line in lines:
        field = _FIELD.fullmatch(line)
        if field:
            key = field.group("key").lower()
            fields.setdefault(_FIELD_NAMES.get(key, key), field.group("value").strip())
    rest = lines[1:] if lines and "title" not in fields else lines
    return DocumentMeta(
        title=fields.get("title") or (lines[0] if lines else None),
        date=_iso_date(fields["date"]) if "date" in fields else _first(_iso_date, lines),
        place=fields.get("place") or _first(_place, rest),
        venue=fields.get("venue") or _first(_venue, rest),
        time=fields.get("time") or _first(_clock_time, rest),
        header=header.strip(),
    )


def _first(find: Callable[[str], str | None], lines: list[str]) -> str | None:
    for line in lines:
        found = find(line)
        if found:
            return found
    return None


def _iso_date(line: str) -> str | None:
    for pattern in _DATES:
        for match in pattern.finditer(line):
            month = match.group("month")
            number = int(month) if month.isdigit() else _MONTHS.get(month.lower())
            if number is None:
                continue
            year = int(match.group("year"))
            year += _CENTURY if year < 100 else 0
            try:
                return date(year, number, int(match.group("day"))).isoformat()
            except ValueError:
                continue
    return None


def _clock_time(line: str) -> str | None:
    match = _CLOCK_TIME.search(line)
    return match.group() if match else None


def _venue(line: str) -> str | None:
    return line if _VENUE_WORDS.search(line) and not any(char.isdigit() for char in line) else None


def _place(line: str) -> str | None:
    return line if _PLACE.fullmatch(line) and not _VENUE_WORDS.search(line) else None
