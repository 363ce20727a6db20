"""Quote verification: find each quotation in its transcript, or refuse to show it as one.

Only typography is forgiven when looking a quote up: curly against straight quotes, dash
variants, runs of white space and letter case. What is shown is always the transcript's
own text at the offsets found. A quote shortened with an ellipsis is matched piece by
piece. A quote that is not found may be repaired to a span of the transcript only when the
two are near-identical; otherwise it is reported ``not_found`` and must not be shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from rag.models import QuoteCheck, Transcript, Turn

_FOLD = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'",
        "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
        "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
    }
)
_ELLIPSIS = re.compile(r"\s*(?:\.\s?\.\s?\.|…|\[\s*(?:\.\.\.|…)\s*\])\s*")
_QUOTE_MARKS = "\"'“”‘’«» \t\r\n"
# Shorter pieces match almost anywhere and prove nothing.
MIN_PIECE_CHARS = 8


def normalize(text: str) -> tuple[str, list[int]]:
    """Fold typography, and map every folded character back to its original offset."""
    folded: list[str] = []
    origin: list[int] = []
    in_space = False
    for position, char in enumerate(text):
        if char.isspace():
            if not in_space and folded:
                folded.append(" ")
                origin.append(position)
            in_space = True
            continue
        in_space = False
        char = char.translate(_FOLD)
        lowered = char.lower()
        folded.append(lowered if len(lowered) == 1 else char)
        origin.append(position)
    if folded and folded[-1] == " ":
        folded.pop()
        origin.pop()
    return "".join(folded), origin


class QuoteVerifier:
    """Looks quotations up in one transcript; build once per transcript, use for many quotes."""

    def __init__(self, transcript: Transcript, repair_min_similarity: float) -> None:
        self.transcript = transcript
        self.repair_min_similarity = repair_min_similarity
        self._folded, self._origin = normalize(transcript.text)

    def check(self, quote: str, prefer: Sequence[tuple[int, int]] = ()) -> list[QuoteCheck]:
        """Check a quotation; one result per ellipsis-separated piece, in order.

        :param prefer: character spans (e.g. the passages the quote was drawn from) where a
            match is preferred when the words occur more than once, and where repair looks.
        """
        pieces = [p.strip(_QUOTE_MARKS) for p in _ELLIPSIS.split(quote.strip(_QUOTE_MARKS))]
        pieces = [p for p in pieces if p]
        if not pieces:
            return [QuoteCheck(quote=quote, status="not_found")]
        results = []
        cursor = 0
        for piece in pieces:
            if len(piece) < MIN_PIECE_CHARS and len(pieces) > 1:
                continue
            result = self._check_piece(piece, prefer, cursor)
            if result.found and result.end is not None:
                cursor = result.end
            results.append(result)
        return results or [QuoteCheck(quote=quote, status="not_found")]

    def turn_at(self, start: int, end: int) -> Turn | None:
        """The turn whose spoken text contains ``start:end``, or None when it crosses turns."""
        return self.transcript.turn_at(start, end)

    def _check_piece(self, piece: str, prefer: Sequence[tuple[int, int]], cursor: int) -> QuoteCheck:
        text = self.transcript.text
        spans = [(m.start(), m.start() + len(piece)) for m in re.finditer(re.escape(piece), text)]
        status = "exact"
        if not spans:
            folded_piece, _ = normalize(piece)
            spans = [self._original_span(m.start(), m.start() + len(folded_piece))
                     for m in re.finditer(re.escape(folded_piece), self._folded)] if folded_piece else []
            status = "normalized"
        spans = [span for span in spans if self.turn_at(*span) is not None]
        if spans:
            start, end = _choose(spans, prefer, cursor)
            return self._result(piece, status, start, end, 1.0)
        return self._repair(piece, prefer)

    def _repair(self, piece: str, prefer: Sequence[tuple[int, int]]) -> QuoteCheck:
        """Snap a near-exact quote to the transcript span it almost equals, or give up."""
        folded_piece, _ = normalize(piece)
        best: tuple[float, int, int] | None = None
        scopes = prefer or [(turn.char_start, turn.char_end) for turn in self.transcript.turns]
        for scope_start, scope_end in scopes:
            folded_scope, scope_origin = normalize(self.transcript.text[scope_start:scope_end])
            candidate = _best_window(folded_piece, folded_scope)
            if candidate and (best is None or candidate[0] > best[0]):
                ratio, start, end = candidate
                best = (ratio, scope_start + scope_origin[start], scope_start + scope_origin[end - 1] + 1)
        if best and best[0] >= self.repair_min_similarity and self.turn_at(best[1], best[2]):
            end = best[2]
            # A window snapped to a word end may carry the clause's comma; the quote did not.
            while end > best[1] and self.transcript.text[end - 1] in ",;:." and not piece.endswith(
                self.transcript.text[end - 1]
            ):
                end -= 1
            return self._result(piece, "repaired", best[1], end, best[0])
        return QuoteCheck(quote=piece, status="not_found", similarity=best[0] if best else 0.0)

    def _original_span(self, folded_start: int, folded_end: int) -> tuple[int, int]:
        return self._origin[folded_start], self._origin[folded_end - 1] + 1

    def _result(self, piece: str, status: str, start: int, end: int, similarity: float) -> QuoteCheck:
        return QuoteCheck(
            quote=piece,
            status=status,
            document=self.transcript.id,
            start=start,
            end=end,
            source_text=self.transcript.text[start:end],
            similarity=similarity,
        )


def _choose(spans: list[tuple[int, int]], prefer: Sequence[tuple[int, int]], cursor: int) -> tuple[int, int]:
    """Among equal matches: inside a preferred span, then after the previous piece, then first."""
    def rank(span: tuple[int, int]) -> tuple[bool, bool, int]:
        inside = any(s <= span[0] and span[1] <= e for s, e in prefer)
        return (not inside, span[0] < cursor, span[0])

    return min(spans, key=rank)


def _best_window(piece: str, scope: str) -> tuple[float, int, int] | None:
    """The word-aligned window of ``scope`` most similar to ``piece``, as (ratio, start, end)."""
    if not piece or not scope:
        return None
    matcher = SequenceMatcher(None, scope, piece, autojunk=False)
    anchor = matcher.find_longest_match(0, len(scope), 0, len(piece))
    if anchor.size < min(len(piece), MIN_PIECE_CHARS):
        return None
    guess = anchor.a - anchor.b
    slack = max(3, len(piece) // 10)
    starts = _word_starts(scope, max(0, guess - slack), min(len(scope), guess + slack))
    best: tuple[float, int, int] | None = None
    for start in starts:
        for end in _word_ends(scope, start + len(piece) - slack, start + len(piece) + slack):
            ratio = SequenceMatcher(None, scope[start:end], piece, autojunk=False).ratio()
            if best is None or ratio > best[0]:
                best = (ratio, start, end)
    return best


def _word_starts(text: str, low: int, high: int) -> list[int]:
    return [i for i in range(low, high + 1) if i < len(text) and text[i] != " " and (i == 0 or text[i - 1] == " ")]


def _word_ends(text: str, low: int, high: int) -> list[int]:
    low, high = max(1, low), min(len(text), high)
    return [i for i in range(low, high + 1) if text[i - 1] != " " and (i == len(text) or text[i] == " ")]
