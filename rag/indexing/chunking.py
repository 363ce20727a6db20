"""Speaker turns into retrievable chunks: one per turn, split at sentences when too long."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rag.models import Chunk, Transcript, Turn
from rag.sentences import sentence_spans

CountTokens = Callable[[str], int]


def chunk_transcript(transcript: Transcript, count_tokens: CountTokens, max_tokens: int) -> list[Chunk]:
    """Chunk every non-empty turn of a transcript; chunks never cross speakers."""
    return [
        chunk
        for turn in transcript.turns
        if turn.text.strip()
        for chunk in chunk_turn(turn, transcript.text, count_tokens, max_tokens)
    ]


def chunk_turn(turn: Turn, document_text: str, count_tokens: CountTokens, max_tokens: int) -> list[Chunk]:
    """One chunk for a turn within ``max_tokens``; otherwise sentence-aligned pieces of it.

    A single sentence longer than the budget is cut at word boundaries, so no chunk ever
    exceeds the budget and every chunk's text is a contiguous slice of the document.
    """
    if count_tokens(turn.text) <= max_tokens:
        spans = [(turn.char_start, turn.char_end)]
    else:
        pieces = _fit_pieces(sentence_spans(turn.text, turn.char_start), document_text, count_tokens, max_tokens)
        spans = list(_pack(pieces, document_text, count_tokens, max_tokens))
    return [
        Chunk(
            id=f"{turn.document}:{turn.index}:{part}",
            document=turn.document,
            turn=turn.index,
            part=part,
            speaker=turn.speaker,
            label=turn.label,
            text=document_text[start:end],
            char_start=start,
            char_end=end,
            flags=turn.flags,
        )
        for part, (start, end) in enumerate(spans)
    ]


def _fit_pieces(
    spans: list[tuple[int, int]], text: str, count_tokens: CountTokens, max_tokens: int
) -> list[tuple[int, int]]:
    """Sentence spans, with any sentence over budget cut into word-aligned pieces."""
    pieces: list[tuple[int, int]] = []
    for start, end in spans:
        if count_tokens(text[start:end]) <= max_tokens:
            pieces.append((start, end))
            continue
        piece_start, last_break = start, None
        breaks = [i for i in range(start, end) if text[i].isspace()] + [end]
        for position in breaks:
            if count_tokens(text[piece_start:position]) > max_tokens and last_break is not None:
                pieces.append((piece_start, last_break))
                piece_start = last_break + 1
            last_break = position
        pieces.append((piece_start, end))
    return pieces


def _pack(
    pieces: Iterable[tuple[int, int]], text: str, count_tokens: CountTokens, max_tokens: int
) -> Iterable[tuple[int, int]]:
    """Greedily join consecutive pieces while the joined slice stays within budget."""
    current: tuple[int, int] | None = None
    for start, end in pieces:
        if current is None:
            current = (start, end)
        elif count_tokens(text[current[0] : end]) <= max_tokens:
            current = (current[0], end)
        else:
            yield current
            current = (start, end)
    if current is not None:
        yield current
