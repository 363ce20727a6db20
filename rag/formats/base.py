"""What every reader shares: the reader record, decoding bytes, clock readings, a turn's body."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from rag.errors import TranscriptError
from rag.formats.labels import STAGE_DIRECTION, stage_directions
from rag.models import Cue, DocumentMeta, Transcript, Turn

# How much of a file the binary check and content sniffing look at.
SNIFF_BYTES = 8192
_BOM = "\ufeff"


@dataclass(frozen=True)
class Reader:
    """One transcript format: its name, the file extensions it owns, how to spot and parse it.

    ``sniff`` looks at the first bytes of content whose extension says nothing; ``parse``
    takes the whole content, the document id and the source to name in errors.
    """

    name: str
    suffixes: tuple[str, ...]
    parse: Callable[[bytes | str, str, str], Transcript]
    sniff: Callable[[bytes], bool] = lambda head: False


def decode_text(data: bytes | str, source: str) -> str:
    """Content as text with ``\\n`` line ends and no byte-order mark.

    :raises TranscriptError: binary data, not UTF-8, or nothing but whitespace.
    """
    if isinstance(data, bytes):
        if b"\x00" in data[:SNIFF_BYTES]:
            line = data[: data.index(b"\x00")].count(b"\n") + 1
            raise TranscriptError("binary data (NUL byte), not a text transcript", source=source, line=line)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise TranscriptError(
                f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})", source=source, line=line
            ) from exc
    else:
        text = data
    # Offsets must mean the same whichever system wrote the file.
    text = text.removeprefix(_BOM).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise TranscriptError("the transcript is empty", source=source)
    return text


def parse_clock(reading: str) -> float:
    """Seconds in a clock reading: ``00:28`` -> 28.0, ``1:02:03,500`` -> 3723.5."""
    whole, _, fraction = reading.replace(",", ".").partition(".")
    seconds = 0
    for part in whole.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds + (float(f"0.{fraction}") if fraction else 0.0)


def format_clock(seconds: float) -> str:
    """A clock reading to the millisecond: 7.4 -> ``00:00:07.400``."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def turn_body(text: str, start: int, end: int) -> tuple[int, int, tuple[str, ...]]:
    """The spoken part of ``text[start:end]`` and the stage directions in it.

    Surrounding whitespace and one opening stage direction ("(Via interpreter)") are left
    out of the span; every stage direction standing on its own is returned as a flag.
    """
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    flags = tuple(dict.fromkeys(stage_directions(text[start:end])))
    direction = STAGE_DIRECTION.match(text, start, end)
    if direction:
        start = direction.end()
    return start, end, flags


def build_transcript(
    document_id: str,
    source: str,
    text: str,
    turns: list[Turn],
    reader: str,
    metadata: DocumentMeta | None = None,
    cues: list[Cue] | None = None,
) -> Transcript:
    """A ``Transcript`` whose hash is that of its stored text."""
    return Transcript(
        id=document_id,
        source=source,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        turns=tuple(turns),
        format=reader,
        metadata=metadata or DocumentMeta(),
        cues=tuple(cues or ()),
    )
