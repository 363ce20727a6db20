"""One person across documents: the labels of every transcript resolved to the people behind them.

A press office writes ``MS. JEAN-PIERRE`` in one transcript, a transcription service
``Karine Jean-Pierre`` in the next, and a caption file ``KARINE JEAN-PIERRE``: one person. Within
one document a label's canonical form (``rag.formats.labels.canonical_speaker``) already drops
titles; across documents a surname alone (``JEAN-PIERRE``, ``LAVROV``) joins the one full name
that ends with it. Questioners (``Q``, ``QUESTION``, ``Reporter``) are one role, not a person
whose positions can be quoted. Diarization ids (``SPEAKER_00``) stay as they are unless the
user's speaker map names them.

The speaker map is a JSON file the user edits::

    {"persons": {"Sergey Lavrov": ["SERGEI LAVROV", "LAVROV"]},
     "documents": {"briefing-2023-06-13": {"SPEAKER_00": "Karine Jean-Pierre"}}}

``persons`` merges and renames (each listed label or canonical speaker becomes that person);
``documents`` names labels within one document only (diarization ids are per file).
Everything here is pure except ``SpeakerMap.load``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.errors import SpeakerMapError
from rag.models import Chunk, Transcript

QUESTIONER = "QUESTION"
# Labels that stand for whoever asked, not for one person; all become the QUESTIONER role.
QUESTIONER_LABELS = frozenset(
    {"Q", "QUESTION", "QUESTIONS", "REPORTER", "REPORTERS", "PRESS", "QUESTIONER", "JOURNALIST", "AUDIENCE",
     "AUDIENCE MEMBER", "PARTICIPANT", "UNIDENTIFIED REPORTER", "UNIDENTIFIED SPEAKER"}
)
# Labels of whoever runs the event: marked as such, kept as their own speaker.
MODERATOR_LABELS = frozenset({"MODERATOR", "OPERATOR", "HOST", "ANNOUNCER", "MC"})
_DIARIZATION_ID = re.compile(r"^(?:SPEAKER[ _]?\d+|SPK[ _]?\d+|[A-Z])$")
# A surname this short ("B" in the ICSI meetings' "PROFESSOR B") names no one across documents.
_MIN_SURNAME_LETTERS = 3

ROLE_SPEAKER = "speaker"
ROLE_QUESTIONER = "questioner"
ROLE_MODERATOR = "moderator"
ROLE_UNNAMED = "unnamed"


@dataclass(frozen=True)
class SpeakerMap:
    """The user's corrections: persons to merge or rename, and per-document names for labels."""

    persons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    documents: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> SpeakerMap:
        """Read a speaker map; no path or no file means no corrections.

        :raises SpeakerMapError: the file is not the JSON shape in the module docstring.
        """
        if path is None or not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpeakerMapError(f"cannot read the speaker map {path}: {exc}") from exc
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: object, *, source: str = "speaker map") -> SpeakerMap:
        if not isinstance(raw, dict) or not set(raw) <= {"persons", "documents"}:
            raise SpeakerMapError(f"{source}: expected an object with 'persons' and/or 'documents'")
        persons = raw.get("persons", {})
        documents = raw.get("documents", {})
        if not isinstance(persons, dict) or not all(
            isinstance(name, str) and isinstance(labels, list) and all(isinstance(x, str) for x in labels)
            for name, labels in persons.items()
        ):
            raise SpeakerMapError(f"{source}: 'persons' must map a name to a list of labels")
        if not isinstance(documents, dict) or not all(
            isinstance(names, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in names.items())
            for names in documents.values()
        ):
            raise SpeakerMapError(f"{source}: 'documents' must map a document id to {{label: name}}")
        return cls({name: tuple(labels) for name, labels in persons.items()}, documents)


@dataclass(frozen=True)
class Person:
    """A person (or a role) with every label and document they appear under."""

    id: str
    name: str
    role: str
    labels: tuple[str, ...]
    aliases: tuple[str, ...]
    documents: tuple[str, ...]
    turns: int


def role_of(speaker: str) -> str:
    """The role a canonical speaker plays: questioner, moderator, unnamed (a diarization id) or speaker."""
    if speaker in QUESTIONER_LABELS:
        return ROLE_QUESTIONER
    if speaker in MODERATOR_LABELS:
        return ROLE_MODERATOR
    if _DIARIZATION_ID.match(speaker):
        return ROLE_UNNAMED
    return ROLE_SPEAKER


# One (document, speaker, label) pair of a transcript with its number of turns, in order of first
# appearance: all that resolving and listing persons reads, so the transcripts themselves stay on disk.
Voice = tuple[str, str, str, int]


def voices_in(document: str, voices: Iterable[tuple[str, str, int]]) -> list[Voice]:
    """A document's (speaker, label, turns) triples as ``Voice`` rows."""
    return [(document, speaker, label, turns) for speaker, label, turns in voices]


def resolve(voices: Iterable[Voice], speaker_map: SpeakerMap = SpeakerMap()) -> dict[tuple[str, str], str]:
    """Map every ``(document, canonical speaker)`` of ``voices`` to a person id.

    Order of precedence: the map's per-document names, the map's persons, questioner labels,
    then a surname joining the single full name that ends with it.
    """
    mapped = {_key(alias): name.upper() for name, aliases in speaker_map.persons.items() for alias in aliases}
    mapped.update({_key(name): name.upper() for name in speaker_map.persons})

    def named(document: str, speaker: str, label: str) -> str:
        per_document = speaker_map.documents.get(document, {})
        for key in (label, speaker):
            if key in per_document:
                return _canonical_name(per_document[key], mapped)
        return mapped.get(_key(label)) or mapped.get(_key(speaker)) or (
            QUESTIONER if speaker in QUESTIONER_LABELS else speaker
        )

    first: dict[tuple[str, str], str] = {}
    for document, speaker, label, _ in voices:
        if (document, speaker) not in first:
            first[(document, speaker)] = named(document, speaker, label)
    full_names: dict[str, set[str]] = defaultdict(set)
    for person in set(first.values()):
        words = person.split()
        if len(words) > 1 and role_of(person) == ROLE_SPEAKER:
            full_names[words[-1]].add(person)
    resolved = {}
    for key, person in first.items():
        candidates = full_names.get(person, set())
        joins = len(candidates) == 1 and len(re.sub(r"\W", "", person)) >= _MIN_SURNAME_LETTERS
        resolved[key] = next(iter(candidates)) if joins and role_of(person) == ROLE_SPEAKER else person
    return resolved


def renamed(transcript: Transcript, persons: Mapping[tuple[str, str], str]) -> Transcript:
    """``transcript`` with each turn's ``speaker`` the person id (labels stay as written)."""
    turns = tuple(
        replace(turn, speaker=persons.get((transcript.id, turn.speaker), turn.speaker)) for turn in transcript.turns
    )
    return replace(transcript, turns=turns)


def renamed_chunks(chunks: list[Chunk], persons: Mapping[tuple[str, str], str]) -> list[Chunk]:
    """Chunks whose ``speaker`` is the person id."""
    # Most speakers are their own person: the chunk (frozen) is kept as it is, since a copy of every
    # chunk of a large index took seconds of its start-up.
    renamed = []
    for chunk in chunks:
        person = persons.get((chunk.document, chunk.speaker), chunk.speaker)
        renamed.append(chunk if person == chunk.speaker else replace(chunk, speaker=person))
    return renamed


def renamed_voices(voices: Iterable[Voice], persons: Mapping[tuple[str, str], str]) -> list[Voice]:
    """Voices whose speaker is the person id."""
    return [(doc, persons.get((doc, speaker), speaker), label, turns) for doc, speaker, label, turns in voices]


def people(voices: Iterable[Voice], document: str | None = None) -> list[Person]:
    """Persons in order of first appearance (after ``renamed_voices``), over one document or all."""
    rows: dict[str, dict] = {}
    for doc, speaker, label, turns in voices:
        if document and doc != document:
            continue
        row = rows.setdefault(speaker, {"labels": {}, "documents": {}, "turns": 0})
        row["labels"][label] = None
        row["documents"][doc] = None
        row["turns"] += turns
    return [
        Person(
            id=person,
            name=display_name(person, tuple(row["labels"])),
            role=role_of(person),
            labels=tuple(row["labels"]),
            aliases=tuple(dict.fromkeys(_key(label) for label in row["labels"] if _key(label) != person)),
            documents=tuple(row["documents"]),
            turns=row["turns"],
        )
        for person, row in rows.items()
    ]


def display_name(person: str, labels: Iterable[str] = ()) -> str:
    """How to show a person: a label written in mixed case with the same words, else title case."""
    if person == QUESTIONER:
        return "A journalist"
    if role_of(person) == ROLE_UNNAMED:
        return person
    for label in labels:
        if label.upper() == person and not label.isupper():
            return label
    return person.title()


def _canonical_name(name: str, mapped: Mapping[str, str]) -> str:
    return mapped.get(_key(name), name.upper())


def _key(label: str) -> str:
    return " ".join(label.upper().split())
