"""How a store keeps a transcript: its record, the structure its reader found, and (embedded store)
its text and structure as content-addressed files under ``texts/``, never rewritten."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

from rag.errors import IndexCorrupt
from rag.models import Cue, DocumentMeta, DocumentRecord, Transcript, Turn
from rag.atomic_files import write_atomic

TEXTS = "texts"


def record_of(transcript: Transcript, chunks: int) -> DocumentRecord:
    """The record a store keeps about ``transcript``, stamped now."""
    meta = transcript.metadata
    return DocumentRecord(
        id=transcript.id,
        sha256=transcript.sha256,
        source=Path(transcript.source).name if transcript.source else "",
        turns=len(transcript.turns),
        chunks=chunks,
        speakers=transcript.speakers,
        added_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        format=transcript.format,
        title=meta.title,
        date=meta.date,
        place=meta.place,
        venue=meta.venue,
        time=meta.time,
        voices=voices_of(transcript),
    )


def voices_of(transcript: Transcript) -> tuple[tuple[str, str, int], ...]:
    """Each (speaker, label) pair of ``transcript`` in order of first appearance, with its turns."""
    counts: dict[tuple[str, str], int] = {}
    for turn in transcript.turns:
        counts[(turn.speaker, turn.label)] = counts.get((turn.speaker, turn.label), 0) + 1
    return tuple((speaker, label, turns) for (speaker, label), turns in counts.items())


def structure_of(transcript: Transcript) -> dict:
    """What a transcript's reader found, keyed by content: the same text always has the same turns."""
    return {
        "format": transcript.format,
        "metadata": asdict(transcript.metadata),
        "cues": [asdict(cue) for cue in transcript.cues],
        "turns": [{k: v for k, v in asdict(turn).items() if k != "document"} for turn in transcript.turns],
    }


def transcript_from(structure: dict, record: DocumentRecord, text: str) -> Transcript:
    turns = tuple(
        Turn(document=record.id, **{**raw, "flags": tuple(raw.get("flags", ()))}) for raw in structure["turns"]
    )
    for turn in turns:
        if text[turn.char_start : turn.char_end] != turn.text:
            raise ValueError(f"turn {turn.index} does not match the stored text")
    return Transcript(
        id=record.id,
        source=record.source,
        text=text,
        sha256=record.sha256,
        turns=turns,
        format=structure["format"],
        metadata=DocumentMeta(**structure["metadata"]),
        cues=tuple(Cue(**raw) for raw in structure["cues"]),
    )


def write_texts(index_path: Path, transcripts: list[Transcript]) -> None:
    """Store each transcript's text and structure unless a file of that content is there already."""
    texts = index_path / TEXTS
    texts.mkdir(exist_ok=True)
    for transcript in transcripts:
        target = texts / f"{transcript.sha256}.txt"
        if not target.exists():
            write_atomic(target, transcript.text.encode("utf-8"))
        structure = texts / f"{transcript.sha256}.json"
        if not structure.exists():
            write_atomic(structure, json.dumps(structure_of(transcript), ensure_ascii=False).encode("utf-8"))


def read_stored_text(index_path: Path, record: DocumentRecord) -> str:
    """The stored text of ``record`` alone. :raises IndexCorrupt: missing, unreadable or edited."""
    try:
        data = (index_path / TEXTS / f"{record.sha256}.txt").read_bytes()
        if hashlib.sha256(data).hexdigest() == record.sha256:
            return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(
            f"index {index_path}: the text or turns of {record.id!r} are missing or unreadable ({exc})"
        ) from exc
    raise IndexCorrupt(f"index {index_path}: the text of {record.id!r} does not match its hash")


def read_text(index_path: Path, record: DocumentRecord) -> Transcript:
    """The stored transcript of ``record``. :raises IndexCorrupt: missing, edited or malformed."""
    text = read_stored_text(index_path, record)
    try:
        structure = json.loads((index_path / TEXTS / f"{record.sha256}.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(
            f"index {index_path}: the text or turns of {record.id!r} are missing or unreadable ({exc})"
        ) from exc
    try:
        return transcript_from(structure, record, text)
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(f"index {index_path}: the turns of {record.id!r} are malformed ({exc!r})") from exc


def with_voices(index_path: Path, records: dict[str, DocumentRecord]) -> dict[str, DocumentRecord]:
    """``records``, those written before records kept voices given them from their stored transcripts
    (a commit does this once, so that later loads need not read any transcript).

    :raises IndexCorrupt: such a transcript is missing, edited or malformed.
    """
    return {
        doc_id: record if record.voices is not None else replace(record, voices=voices_of(read_text(index_path, record)))
        for doc_id, record in records.items()
    }


def prune_texts(index_path: Path, live: set[str]) -> None:
    """Remove stored texts whose hash no document has any more."""
    for stored in (index_path / TEXTS).iterdir():
        if stored.suffix in (".txt", ".json") and stored.stem not in live:
            stored.unlink(missing_ok=True)
