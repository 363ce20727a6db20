"""The extractive generator: answers with the retrieved sentences that best match the question.

No language model is involved, so every quotation is the transcript's text by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.embedders.embedding import Embedder
from rag.generators.base import Draft, DraftQuote, Message
from rag.retrieval.lexical import term_overlap
from rag.models import Passage
from rag.sentences import sentence_spans

# Greetings and thanks are sentences too, but never an answer.
_MIN_SENTENCE_CHARS = 25


@dataclass(frozen=True)
class _Candidate:
    passage: int
    start: int
    end: int
    text: str
    score: float


class ExtractiveGenerator:
    """Selects up to ``max_quotes`` sentences from the passages, best first.

    A sentence scores its cosine with the question plus ``lexical_weight`` times the share of the
    question's words it has; none is chosen when the best scores below ``min_score``, and those
    below ``keep_share`` of the best are left out (``Settings`` holds the tuned values).
    """

    name = "extractive"

    def __init__(
        self, embedder: Embedder, *, max_quotes: int, min_score: float, keep_share: float, lexical_weight: float,
        cache_size: int = 20000,
    ) -> None:
        self.embedder = embedder
        self.max_quotes = max_quotes
        self.min_score = min_score
        self.keep_share = keep_share
        self.lexical_weight = lexical_weight
        # Sentence vectors by sentence text: the same passages come back for many questions.
        self._vectors: dict[str, np.ndarray] = {}
        self._cache_size = cache_size

    def generate(
        self, question: str, passages: Sequence[Passage], history: Sequence[Message] = (), focus: str | None = None
    ) -> Draft:
        candidates = self._candidates(focus or question, passages)
        if not candidates:
            return Draft(refused=True)
        chosen = _select(candidates, self.max_quotes, self.keep_share)
        if not chosen or chosen[0].score < self.min_score:
            return Draft(refused=True)
        return Draft(quotes=[DraftQuote(text=c.text, passage=c.passage) for c in _merge_adjacent(chosen)])

    def _candidates(self, question: str, passages: Sequence[Passage]) -> list[_Candidate]:
        raw: list[tuple[int, str, int, int, str]] = []
        for number, passage in enumerate(passages, start=1):
            chunk = passage.chunk
            for start, end in sentence_spans(chunk.text, chunk.char_start):
                text = chunk.text[start - chunk.char_start : end - chunk.char_start]
                if len(text) >= _MIN_SENTENCE_CHARS:
                    raw.append((number, chunk.document, start, end, text))
        if not raw:
            return []
        question_vector = self.embedder.embed([question])[0]
        vectors = self._sentence_vectors(raw)
        cosines = vectors @ question_vector
        return [
            _Candidate(number, start, end, text, float(cos) + self.lexical_weight * term_overlap(question, text))
            for (number, _, start, end, text), cos in zip(raw, cosines)
        ]

    def _sentence_vectors(self, raw: list[tuple[int, str, int, int, str]]) -> np.ndarray:
        # Keyed by the sentence itself: a vector depends on nothing else, so a replaced document
        # whose sentences moved (same offsets, other words) can never get the old vectors back.
        keys = [text for *_, text in raw]
        # A local copy, so that another thread clearing the cache cannot pull a vector away.
        found = {key: self._vectors.get(key) for key in keys}
        missing = [i for i, key in enumerate(keys) if found[key] is None]
        if missing:
            for i, vector in zip(missing, self.embedder.embed([raw[i][4] for i in missing])):
                found[keys[i]] = vector
            if len(self._vectors) + len(missing) > self._cache_size:
                self._vectors.clear()
            self._vectors.update((keys[i], found[keys[i]]) for i in missing)
        return np.stack([found[key] for key in keys])


def _select(candidates: list[_Candidate], limit: int, keep_share: float) -> list[_Candidate]:
    """The best sentences, dropping those far below the best so weak ones do not pad the answer."""
    ranked = sorted(candidates, key=lambda c: -c.score)
    best = ranked[0].score
    return [c for c in ranked[:limit] if c.score >= best * keep_share]


def _merge_adjacent(chosen: list[_Candidate]) -> list[_Candidate]:
    """Join sentences that follow each other in the same passage into one longer quote."""
    ordered = sorted(chosen, key=lambda c: (c.passage, c.start))
    merged: list[_Candidate] = []
    for candidate in ordered:
        previous = merged[-1] if merged else None
        if previous and previous.passage == candidate.passage and 0 <= candidate.start - previous.end <= 2:
            gap = " " * (candidate.start - previous.end)
            merged[-1] = _Candidate(
                previous.passage, previous.start, candidate.end,
                previous.text + gap + candidate.text, max(previous.score, candidate.score),
            )
        else:
            merged.append(candidate)
    return sorted(merged, key=lambda c: -c.score)
