"""Caption files, WebVTT and SubRip: cues of a few seconds each, joined into turns.

WebVTT names speakers in voice spans (``<v Karine Jean-Pierre>Hi.</v>``, Teams and YouTube) or
as ``Name: text`` in each cue (Zoom). SubRip names a speaker, in capitals, on the first cue of
a turn only (``KARINE JEAN-PIERRE: Hi.``); later cues continue the last named speaker.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from rag.errors import TranscriptError
from rag.formats.base import Reader, decode_text, parse_clock
from rag.formats.labels import LABEL_COLON, is_speaker_label
from rag.formats.timeline import Utterance, transcript_from_utterances
from rag.models import Transcript

_CUE_CLOCK = r"(?:\d+:)?\d{2}:\d{2}[.,]\d{3}"
_TIMING = re.compile(rf"(?P<start>{_CUE_CLOCK})[ \t]+-->[ \t]+(?P<end>{_CUE_CLOCK})(?:[ \t].*)?")
_VOICE = re.compile(r"<v(?:\.[\w.\-]+)*[ \t]+(?P<name>[^>]+)>")
_MARKUP = re.compile(r"<[^>]*>|\{\\[^}]*\}")
# "- Fine, thanks." marks a change of speaker inside a cue, named or not.
_DIALOGUE_DASH = re.compile(r"[-–][ \t]+")
# WebVTT blocks that are not cues: comments, style sheets, region definitions.
_NON_CUE_BLOCKS = ("NOTE", "STYLE", "REGION")
_VTT_SIGNATURE = "WEBVTT"
_SRT_START = re.compile(rb"\s*\d+[ \t]*\r?\n[ \t]*" + _CUE_CLOCK.encode() + rb"[ \t]+-->")


def parse_vtt(data: bytes | str, document_id: str, source: str) -> Transcript:
    """Parse a WebVTT file; see the module docstring."""
    text = decode_text(data, source)
    blocks = list(_blocks(text))
    _, header = blocks[0]
    if not header[0].startswith(_VTT_SIGNATURE):
        raise TranscriptError(f"not a WebVTT file: the first line must be {_VTT_SIGNATURE!r}", source=source, line=1)
    cues = [block for block in blocks[1:] if not block[1][0].startswith(_NON_CUE_BLOCKS)]
    return _transcript(cues, document_id, source, VTT.name, upper_case_names=False)


def parse_srt(data: bytes | str, document_id: str, source: str) -> Transcript:
    """Parse a SubRip file; see the module docstring."""
    text = decode_text(data, source)
    return _transcript(list(_blocks(text)), document_id, source, SRT.name, upper_case_names=True)


def _transcript(
    blocks: list[tuple[int, list[str]]], document_id: str, source: str, reader: str, *, upper_case_names: bool
) -> Transcript:
    utterances: list[Utterance] = []
    for line, lines in blocks:
        start, end, payload_at = _timing(lines, line, source)
        label = utterances[-1].label if utterances else None
        for name, words in _voices(lines[payload_at:], upper_case_names, source, line + payload_at):
            label = name or label
            if label is None:
                raise TranscriptError(
                    "caption names no speaker and follows none (expected '<v Name>' or 'NAME:')",
                    source=source,
                    line=line + payload_at,
                )
            utterances.append(Utterance(label, words, start, end, line))
    if not utterances:
        raise TranscriptError("no captions found", source=source)
    return transcript_from_utterances(utterances, document_id, source, reader=reader)


def _blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """Runs of non-blank lines, each with the line number of its first line."""
    lines: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            lines.append(line.strip())
        elif lines:
            yield number - len(lines), lines
            lines = []
    if lines:
        yield number - len(lines) + 1, lines


def _timing(lines: list[str], line: int, source: str) -> tuple[float, float, int]:
    """A cue's start and end, and where its text begins; an optional identifier comes first."""
    at = 0 if "-->" in lines[0] or len(lines) == 1 else 1
    match = _TIMING.fullmatch(lines[at])
    if not match:
        problem = "malformed cue timing" if "-->" in lines[at] else "expected a cue timing line"
        raise TranscriptError(
            f"{problem} (want 'hh:mm:ss.mmm --> hh:mm:ss.mmm'): {lines[at]!r}", source=source, line=line + at
        )
    start, end = parse_clock(match.group("start")), parse_clock(match.group("end"))
    if end < start:
        raise TranscriptError(f"cue ends before it starts: {lines[at]!r}", source=source, line=line + at)
    return start, end, at + 1


def _voices(payload: list[str], upper_case_names: bool, source: str, line: int) -> list[tuple[str | None, str]]:
    """A cue's text split by speaker: ``(name or None to continue, words)`` per line, runs merged.

    :raises TranscriptError: a dialogue dash changes speaker without naming the new one.
    """
    voices: list[tuple[str | None, str]] = []
    for offset, raw in enumerate(payload):
        voice = _VOICE.match(raw)
        name = voice.group("name").strip() if voice else None
        words = html.unescape(_MARKUP.sub("", raw)).strip()
        dash = _DIALOGUE_DASH.match(words)
        words = words[dash.end() :] if dash else words
        named = LABEL_COLON.match(words) if name is None else None
        if named and _names_speaker(named.group("label"), upper_case_names):
            name, words = named.group("label").strip(), words[named.end() :].strip()
        if dash and name is None:
            # Continuing the last speaker would put these words in the wrong mouth.
            raise TranscriptError(
                "a dialogue dash starts another speaker without naming them", source=source, line=line + offset
            )
        if voices and (name is None or name == voices[-1][0]):
            voices[-1] = (voices[-1][0], f"{voices[-1][1]} {words}".strip())
        else:
            voices.append((name, words))
    return voices


def _names_speaker(label: str, upper_case_names: bool) -> bool:
    """Whether a cue's ``label:`` opening names a speaker; SubRip writes names in capitals only."""
    return is_speaker_label(label) and (label.isupper() or not upper_case_names)


def _sniff_vtt(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(_VTT_SIGNATURE.encode())


def _sniff_srt(head: bytes) -> bool:
    return _SRT_START.match(head.removeprefix(b"\xef\xbb\xbf")) is not None


VTT = Reader(name="vtt", suffixes=(".vtt",), parse=parse_vtt, sniff=_sniff_vtt)
SRT = Reader(name="srt", suffixes=(".srt",), parse=parse_srt, sniff=_sniff_srt)
