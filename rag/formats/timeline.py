"""Timed utterances (caption cues, ASR segments, JSON turns) into turns over a rendered text.

Captions and diarized ASR cut speech into pieces of a few seconds. Consecutive pieces of one
speaker join into one turn unless a pause between them is long enough to be a new paragraph.
The rendering is itself a plain-text transcript, one paragraph per turn::

    [00:00:03.000] Karine Jean-Pierre: Hi, everyone. Good afternoon.

    [00:00:05.600] Reporter: Good afternoon.

so the stored text reads naturally and parses back to the same turns, starts included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.errors import TranscriptError
from rag.formats.base import build_transcript, format_clock, turn_body
from rag.formats.labels import canonical_speaker
from rag.formats.text import transcript_from_text
from rag.models import Cue, Transcript, Turn

# A pause this long between two pieces of one speaker starts a new paragraph, a new turn.
# In the 2023-06-13 briefing renditions (real-formats/) cues within a paragraph are 0.2 s
# apart and paragraphs 1.0 s; 0.75 s sits well clear of both, and is a long breath in speech.
PARAGRAPH_PAUSE_SECONDS = 0.75
_PARAGRAPH_BREAK = "\n\n"


@dataclass(frozen=True)
class Utterance:
    """One piece of speech as a source gives it; ``line`` locates it in the source for errors."""

    label: str
    text: str
    start: float | None = None
    end: float | None = None
    line: int | None = None


def transcript_from_utterances(
    utterances: Sequence[Utterance], document_id: str, source: str, *, reader: str
) -> Transcript:
    """Join utterances into turns and render them; every cue keeps its place and times.

    :raises TranscriptError: nothing was said, or the rendering would not read back as the
        same turns (a speaker's name that is no label, a line of speech that looks like one).
    """
    spoken = [u for u in utterances if u.text.strip()]
    if not spoken:
        raise TranscriptError("no speech found: every utterance is empty", source=source)
    parts: list[str] = []
    turns: list[Turn] = []
    cues: list[Cue] = []
    offset = lines_before = 0
    groups = _paragraphs(spoken)
    for group in groups:
        first = group[0]
        opener = (f"[{format_clock(first.start)}] " if first.start is not None else "") + f"{first.label}: "
        body_start = offset + len(opener)
        pieces, cursor = [], body_start
        for utterance in group:
            piece = utterance.text.strip()
            if utterance.start is not None:
                cues.append(Cue(cursor, cursor + len(piece), utterance.start, utterance.end))
            pieces.append(piece)
            cursor += len(piece) + 1
        paragraph = opener + " ".join(pieces)
        start, end, flags = turn_body(paragraph, len(opener), len(paragraph))
        turns.append(
            Turn(
                document=document_id,
                index=len(turns),
                label=first.label,
                speaker=canonical_speaker(first.label),
                text=paragraph[start:end],
                char_start=offset + start,
                char_end=offset + end,
                span_start=offset,
                span_end=offset + len(paragraph),
                line=lines_before + 1,
                flags=flags,
                media_start=first.start,
                media_end=group[-1].end,
            )
        )
        parts.append(paragraph)
        offset += len(paragraph) + len(_PARAGRAPH_BREAK)
        lines_before += (paragraph + _PARAGRAPH_BREAK).count("\n")
    text = _PARAGRAPH_BREAK.join(parts) + "\n"
    transcript = build_transcript(document_id, source, text, turns, reader, cues=cues)
    _check_reads_back(transcript, [group[0] for group in groups], source)
    return transcript


def _paragraphs(utterances: Sequence[Utterance]) -> list[list[Utterance]]:
    groups: list[list[Utterance]] = []
    for utterance in utterances:
        if groups and _continues(groups[-1][-1], utterance):
            groups[-1].append(utterance)
        else:
            groups.append([utterance])
    return groups


def _continues(previous: Utterance, current: Utterance) -> bool:
    """Same speaker, both timed, and no paragraph pause between them."""
    if canonical_speaker(previous.label) != canonical_speaker(current.label):
        return False
    if previous.end is None or current.start is None:
        return False
    return current.start - previous.end < PARAGRAPH_PAUSE_SECONDS


def _check_reads_back(transcript: Transcript, openers: list[Utterance], source: str) -> None:
    """An index keeps only the stored text and reads it back as text: the turns must survive that."""
    try:
        again = transcript_from_text(transcript.text, transcript.id, source, reader=transcript.format).turns
    except TranscriptError:
        again = ()
    written = [(t.label, t.char_start, t.char_end) for t in transcript.turns]
    read = [(t.label, t.char_start, t.char_end) for t in again]
    if read != written:
        differs = (i for i, pair in enumerate(zip(written, read)) if pair[0] != pair[1])
        utterance = openers[next(differs, min(len(read), len(openers) - 1))]
        raise TranscriptError(
            f"the turn of {utterance.label!r} cannot be written as a transcript paragraph: the name is no "
            "speaker label, or a line of the speech reads as one",
            source=source,
            line=utterance.line,
        )
