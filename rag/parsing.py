"""Transcripts in, speaker turns out: pure functions, no I/O beyond ``read_transcript``.

Two input shapes are understood:

* press style text, where a line starting with a speaker label (``SECRETARY KERRY: ...``)
  opens a turn and every following line without a label continues it;
* a JSON list of ``{"speaker": ..., "text": ...}`` objects. JSON has no meaningful character
  offsets of its own, so it is rendered to press style and that rendering becomes the text
  that offsets refer to.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from rag.errors import TranscriptError
from rag.models import Transcript, Turn

# An upper-case label ("FOREIGN MINISTER LAVROV", "HON. X (RIDING, LIB.)") or a short run of
# capitalised words ("Secretary Kerry"), at the start of a line, followed by a colon.
_UPPER_LABEL = r"[A-Z][A-Z0-9 .,'’&/()\-]{0,199}"
_TITLE_LABEL = r"[A-Z][\w.'’\-]*(?: (?:[A-Z(][\w.,'’()\-]*|of|de|la|van|von|da|du|al|bin)){0,5}"
_LABEL_LINE = re.compile(rf"^(?P<label>{_UPPER_LABEL}|{_TITLE_LABEL}):(?=[ \t]|$)", re.MULTILINE)

# A stage direction opening a paragraph: "(Via interpreter)", "(In Russian)".
_STAGE_DIRECTION = re.compile(r"\(([^()\n]{1,40})\)[ \t]*")

_PAREN_GROUP = re.compile(r"\([^()]*\)")
_TITLE_WORDS = frozenset(
    """MR MRS MS MISS MX DR PROF PROFESSOR HON HONOURABLE HONORABLE RIGHT RT SIR DAME LORD LADY
    SENATOR SEN REP REPRESENTATIVE CONGRESSMAN CONGRESSWOMAN SECRETARY FOREIGN MINISTER PRIME
    PRESIDENT VICE DEPUTY ASSISTANT UNDER GENERAL AMBASSADOR GOVERNOR MAYOR JUDGE JUSTICE
    CHAIRMAN CHAIRWOMAN SPEAKER ACTING STATE""".split()
)
_POST_NOMINALS = frozenset("AM MP MS MSP MLA MEP QC KC PHD OBE MBE CBE".split())


def canonical_speaker(label: str) -> str:
    """Reduce a label as written to the person: ``FOREIGN MINISTER LAVROV`` -> ``LAVROV``.

    Parenthesised ridings and offices go, then leading titles and trailing post-nominals,
    unless nothing would be left (``THE CHAIR`` stays as it is).
    """
    text = label.upper()
    while _PAREN_GROUP.search(text):
        text = _PAREN_GROUP.sub(" ", text)
    words = [word.strip(".,") for word in text.split()]
    words = [word for word in words if word]
    if not words:
        return label.strip().upper()
    start, end = 0, len(words)
    while start < end - 1 and words[start] in _TITLE_WORDS:
        start += 1
    while end > start + 1 and words[end - 1] in _POST_NOMINALS:
        end -= 1
    core = words[start:end]
    if all(word in _TITLE_WORDS or word == "THE" for word in core):
        core = words
    return " ".join(core)


def parenthesised_parts(label: str) -> list[str]:
    """The top-level parenthesised groups of a label, e.g. ridings and offices."""
    parts, depth, current = [], 0, []
    for char in label:
        if char == "(":
            if depth:
                current.append(char)
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth:
                current.append(char)
            else:
                parts.append("".join(current).strip())
                current = []
        elif depth:
            current.append(char)
    return [part for part in parts if part]


def document_id_for(path: Path) -> str:
    """A document's id: its file name without extensions, e.g. ``covid_2``."""
    name = path.name
    for suffix in (".turns.json", ".json", ".txt", ".md"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_transcript(path: Path, document_id: str | None = None) -> Transcript:
    """Read and parse a transcript file.

    :param path: a ``.txt`` press-style transcript or a ``.json`` list of turns.
    :param document_id: the id to store it under; the file name without extension by default.
    :returns: the parsed transcript.
    :raises TranscriptError: unreadable, not UTF-8, binary, empty, or without speaker labels.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(f"cannot read file ({exc.strerror})", source=str(path)) from exc
    return parse_transcript(data, document_id or document_id_for(path), source=str(path))


def parse_transcript(data: bytes | str, document_id: str, *, source: str = "") -> Transcript:
    """Parse transcript content (bytes or text) into turns; see the module docstring."""
    text = _decode(data, source) if isinstance(data, bytes) else data
    if not text.strip():
        raise TranscriptError("the transcript is empty", source=source or document_id)
    if text.lstrip()[:1] in ("[", "{"):
        text = _render_json_turns(text, source or document_id)
    turns = _split_turns(text, document_id, source or document_id)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Transcript(id=document_id, source=source, text=text, sha256=digest, turns=turns)


def _decode(data: bytes, source: str) -> str:
    if b"\x00" in data[:8192]:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise TranscriptError("binary data (NUL byte), not a text transcript", source=source, line=line)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TranscriptError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            source=source,
            line=line,
        ) from exc


def _render_json_turns(text: str, source: str) -> str:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"invalid JSON ({exc.msg})", source=source, line=exc.lineno) from exc
    if isinstance(items, dict) and isinstance(items.get("turns"), list):
        items = items["turns"]
    if not isinstance(items, list) or not items:
        raise TranscriptError("JSON transcript must be a non-empty list of turns", source=source)
    rendered = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise TranscriptError(f"turn {position} is not an object", source=source)
        speaker = str(item.get("speaker") or item.get("label") or "").strip()
        if "text" not in item:
            raise TranscriptError(f"turn {position} has no 'text' field", source=source)
        spoken = str(item["text"] or "").strip()
        if not speaker:
            raise TranscriptError(f"turn {position} has no speaker", source=source)
        if "\n" in speaker or ":" in speaker:
            raise TranscriptError(f"turn {position} has a speaker with ':' or a newline", source=source)
        rendered.append(f"{speaker.upper()}: {spoken}".rstrip())
    return "\n\n".join(rendered) + "\n"


def _split_turns(text: str, document_id: str, source: str) -> tuple[Turn, ...]:
    matches = list(_LABEL_LINE.finditer(text))
    if not matches:
        raise TranscriptError(
            "no speaker labels found (expected lines such as 'SPEAKER NAME: text')",
            source=source,
            line=1,
        )
    preamble = text[: matches[0].start()].strip()
    if preamble:
        line = text[: matches[0].start()].count("\n") + 1
        raise TranscriptError(
            f"text before the first speaker label: {preamble[:60]!r}", source=source, line=1 if line else None
        )
    turns = []
    for index, match in enumerate(matches):
        span_end_limit = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        label = match.group("label").strip()
        start = match.end()
        end = span_end_limit
        while end > start and text[end - 1].isspace():
            end -= 1
        while start < end and text[start].isspace():
            start += 1
        flags: list[str] = []
        direction = _STAGE_DIRECTION.match(text, start, end)
        if direction:
            flags.append(direction.group(1).strip().lower())
            start = direction.end()
        flags.extend(_inner_directions(text, start, end))
        turns.append(
            Turn(
                document=document_id,
                index=index,
                label=label,
                speaker=canonical_speaker(label),
                text=text[start:end],
                char_start=start,
                char_end=end,
                span_start=match.start(),
                span_end=end if end > match.end() else match.end(),
                line=text.count("\n", 0, match.start()) + 1,
                flags=tuple(dict.fromkeys(flags)),
            )
        )
    return tuple(turns)


def _inner_directions(text: str, start: int, end: int) -> list[str]:
    """Stage directions opening later paragraphs of a turn (kept in the text, noted as flags)."""
    flags = []
    for paragraph_start in (m.end() for m in re.finditer(r"\n\s*\n", text[start:end])):
        direction = _STAGE_DIRECTION.match(text, start + paragraph_start, end)
        if direction:
            flags.append(direction.group(1).strip().lower())
    return flags
