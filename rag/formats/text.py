"""Plain-text transcripts: a header of front matter, then turns opened by speaker labels.

A turn opens at the start of a line with

* a label and a colon: ``SECRETARY KERRY:``, ``Sergey Lavrov:``, ``Q:`` (one or more spaces after);
* a questioner's ``Q`` and spaces, without a colon (White House transcripts), before a word
  that is not lower case ("Q and A" opens nothing);
* a label with a clock reading, transcription-service style: ``Karine Jean-Pierre (00:03):``,
  the words usually after a blank line;
* a clock reading in brackets before the label: ``[00:01:02] Name:``;
* a bare ``(00:28)``, which opens a new timed paragraph of the same speaker.

Unlabelled paragraphs continue the turn. Whatever comes before the first label is the
document's front matter (see ``rag.formats.header``). The stored text is the file itself.
"""

from __future__ import annotations

import re
from dataclasses import replace

from rag.errors import TranscriptError
from rag.formats.base import Reader, build_transcript, decode_text, parse_clock, turn_body
from rag.formats.header import parse_header
from rag.formats.labels import CLOCK, LABEL, canonical_speaker, is_speaker_label
from rag.models import Cue, Transcript, Turn

# The label after a bracketed clock reading may be anything on one line without a colon or
# bracket ("SPEAKER_00", "spk 1"): the reading already marks the line as a turn's start.
_STAMPED_LABEL = r"[^\s:\[\]][^:\n\[\]]{0,99}?"
_OPENER = re.compile(
    rf"^(?:(?P<rev_label>{LABEL}) \((?P<rev_time>{CLOCK})\):(?=[ \t]|$)"
    rf"|\[(?P<stamp_time>{CLOCK})\][ \t]+(?P<stamp_label>{_STAMPED_LABEL}):(?=[ \t]|$)"
    rf"|(?P<label>{LABEL}):(?=[ \t]|$)"
    r"|(?P<question>Q)(?=[ \t]+[^\sa-z])"
    rf"|\((?P<paragraph_time>{CLOCK})\)[ \t]*$)",
    re.MULTILINE,
)
_NO_LABELS = "no speaker labels found (expected lines such as 'SPEAKER NAME: text')"


def parse_text(data: bytes | str, document_id: str, source: str) -> Transcript:
    """Parse a plain-text transcript; see the module docstring."""
    return transcript_from_text(decode_text(data, source), document_id, source, reader=TEXT.name)


def transcript_from_text(text: str, document_id: str, source: str, *, reader: str) -> Transcript:
    """Turns, front matter and timed paragraphs of decoded text, under the name of ``reader``."""
    openers = _openers(text)
    if not openers:
        raise TranscriptError(_NO_LABELS, source=source, line=1)
    turns: list[Turn] = []
    # Line numbers counted on from the previous turn: counting from the start each time took
    # 27 s for a 4,800-turn upload.
    line, counted_to = 1, 0
    for index, (match, label, seconds) in enumerate(openers):
        limit = openers[index + 1][0].start() if index + 1 < len(openers) else len(text)
        line += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        start, end, flags = turn_body(text, match.end(), limit)
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
                span_end=max(end, match.end()),
                line=line,
                flags=flags,
                media_start=seconds,
            )
        )
    turns = _close_media_times(turns)
    cues = [Cue(t.char_start, t.char_end, t.media_start, t.media_end) for t in turns if t.media_start is not None]
    metadata = parse_header(text[: openers[0][0].start()])
    return build_transcript(document_id, source, text, turns, reader, metadata, cues)


def _openers(text: str) -> list[tuple[re.Match[str], str, float | None]]:
    """Each line that opens a turn, with the turn's label and its start time if written."""
    openers: list[tuple[re.Match[str], str, float | None]] = []
    for match in _OPENER.finditer(text):
        if match.group("paragraph_time") is not None:
            # A timed paragraph continues whoever spoke last; before anyone, it is front matter.
            if openers:
                openers.append((match, openers[-1][1], parse_clock(match.group("paragraph_time"))))
            continue
        label = match.group("rev_label") or match.group("stamp_label") or match.group("label")
        if match.group("label") and not is_speaker_label(label):
            continue
        time = match.group("rev_time") or match.group("stamp_time")
        openers.append((match, (label or match.group("question")).strip(), parse_clock(time) if time else None))
    return openers


def _close_media_times(turns: list[Turn]) -> list[Turn]:
    """A timed turn lasts until the next turn starts, when that one is timed too."""
    closed = []
    for turn, following in zip(turns, turns[1:] + [None]):
        if turn.media_start is not None and following is not None and following.media_start is not None:
            turn = replace(turn, media_end=following.media_start)
        closed.append(turn)
    return closed


TEXT = Reader(name="text", suffixes=(".txt", ".md"), parse=parse_text)
