"""The value objects that flow between Verbatim's components."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Turn:
    """One speaker turn of a transcript.

    ``text`` is exactly ``transcript.text[char_start:char_end]``: the words spoken, without
    the label and without a leading stage direction such as "(Via interpreter)".
    ``span_start``/``span_end`` cover the whole turn as written, label included.
    """

    document: str
    index: int
    label: str
    speaker: str
    text: str
    char_start: int
    char_end: int
    span_start: int
    span_end: int
    line: int
    flags: tuple[str, ...] = ()
    # Seconds into the recording, where the source has times (captions, ASR, "Name (01:23):").
    media_start: float | None = None
    media_end: float | None = None


@dataclass(frozen=True)
class Cue:
    """A timed stretch of the stored text: ``text[char_start:char_end]`` is heard from ``start`` to ``end`` s."""

    char_start: int
    char_end: int
    start: float
    end: float | None = None


@dataclass(frozen=True)
class DocumentMeta:
    """What a transcript says about itself before anyone speaks (its front matter).

    ``date`` is ISO ``YYYY-MM-DD`` when the header gives a date; ``header`` keeps the front
    matter as written so nothing a reader did not understand is lost.
    """

    title: str | None = None
    date: str | None = None
    place: str | None = None
    venue: str | None = None
    time: str | None = None
    header: str = ""


@dataclass(frozen=True)
class Transcript:
    """A parsed transcript: its stored text, its turns, and what its header says about it.

    For plain text the stored text is the file itself; for captions and JSON it is a
    rendering made by the format's reader. Every offset refers to the stored text.
    """

    id: str
    source: str
    text: str
    sha256: str
    turns: tuple[Turn, ...]
    format: str = "text"
    metadata: DocumentMeta = field(default_factory=DocumentMeta)
    cues: tuple[Cue, ...] = ()

    @property
    def speakers(self) -> list[str]:
        """Canonical speakers in order of first appearance."""
        return list(dict.fromkeys(turn.speaker for turn in self.turns))

    def media_span(self, start: int, end: int) -> tuple[float | None, float | None]:
        """Recording times of ``text[start:end]``: the cue where it starts and the cue where it ends.

        Without cues, the times of the turn that holds it (if its source had any).
        """
        first = next((cue for cue in self.cues if cue.char_start <= start < cue.char_end), None)
        last = next((cue for cue in self.cues if cue.char_start < end <= cue.char_end), None)
        if first or last:
            return (first.start if first else None), (last.end if last else None)
        turn = self.turn_at(start, end)
        return (turn.media_start, turn.media_end) if turn else (None, None)

    def turn_at(self, start: int, end: int) -> Turn | None:
        """The turn whose spoken text contains ``text[start:end]``, or None when the span crosses turns."""
        return next((t for t in self.turns if t.char_start <= start and end <= t.char_end), None)


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of one turn; ``text`` is the document's ``[char_start:char_end]``."""

    id: str
    document: str
    turn: int
    part: int
    speaker: str
    label: str
    text: str
    char_start: int
    char_end: int
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentRecord:
    """What an index keeps about one transcript (``source`` is a file name, never a server path)."""

    id: str
    sha256: str
    source: str
    turns: int
    chunks: int
    speakers: list[str]
    added_at: str
    format: str = "text"
    title: str | None = None
    date: str | None = None
    place: str | None = None
    venue: str | None = None
    time: str | None = None
    # Each (canonical speaker, label) pair in order of first appearance with its number of turns: what
    # speaker resolution and listings need, so that loading an index need not parse every transcript.
    # ``None``: an index written before records kept it (the transcript is read instead).
    voices: tuple[tuple[str, str, int], ...] | None = None

    def __post_init__(self) -> None:
        if self.voices is not None:
            # Read back from JSON, the pairs are lists.
            object.__setattr__(self, "voices", tuple((str(s), str(label), int(n)) for s, label, n in self.voices))


@dataclass(frozen=True)
class DocumentSummary:
    """A document as listed: its record, its date (header or id) and who speaks in it (questioners left out)."""

    record: DocumentRecord
    date: str | None
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class Passage:
    """A chunk returned by retrieval, with its fused score and per-retriever ranks."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    ranks: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QuoteCheck:
    """The outcome of looking one quotation up in its transcript.

    ``status`` is ``exact`` (found as written), ``normalized`` (found once typography was
    folded), ``repaired`` (replaced by a near-exact span of the transcript) or ``not_found``.
    ``source_text`` is the transcript's own text at ``start:end``; it is what gets shown.
    """

    quote: str
    status: str
    document: str | None = None
    start: int | None = None
    end: int | None = None
    source_text: str | None = None
    similarity: float = 0.0

    @property
    def found(self) -> bool:
        return self.status != "not_found"


@dataclass(frozen=True)
class Citation:
    """A verified quotation, attributed to the turn that contains it."""

    id: int
    quote: str
    speaker: str
    label: str
    document: str
    turn: int
    char_start: int
    char_end: int
    status: str = "exact"
    media_start: float | None = None
    media_end: float | None = None
    title: str | None = None
    date: str | None = None
    place: str | None = None


@dataclass
class Answer:
    """What Verbatim answers: text referring to citations as ``[id]``, and those citations."""

    question: str
    answer: str
    refused: bool
    generator: str
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    refusal_reason: str | None = None
    fallback: bool = False
    quotes_dropped: int = 0
    quotes_repaired: int = 0
    # The generator's own sentences were left out: the quotations did not support them.
    summary_dropped: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The documents the question named by place or date ("in Rome"), when it was confined to them.
    scope: list[str] = field(default_factory=list)
