"""The extractive generator: answers with the retrieved sentences that best match the question.

No language model is involved, so every quotation is the transcript's text by construction.
The words of a turn that asks ("... is there a danger that ...?") restate the
question best but answer nothing, so they rank lower unless the question is about what was asked; a sentence carrying
what the question asks for (a figure for "how much", a name for "who") ranks higher.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.embedders.embedding import Embedder
from rag.generators.base import Draft, DraftQuote, Message
from rag.retrieval.lexical import content_terms, query_terms, term_overlap
from rag.models import Passage
from rag.sentences import quotable_sentences

if TYPE_CHECKING:
    from rag.indexing.sentence_vectors import SentenceVectors

# The sentence vectors ingest stored for the index being answered from (None: there are none).
StoredVectors = Callable[[], "SentenceVectors | None"]
# Questions about questions: "What did the journalist ask?", "Which questions were raised?"
_ASKS_WHAT_WAS_ASKED = re.compile(r"\b(?:ask|asks|asked|asking|question|questions|queried|wonder(?:ed)?)\b", re.I)
_ASKS_FOR_FIGURE = re.compile(
    r"\b(?:how (?:much|many|long|often|far|old|big|large)|rate|rates|price|prices|cost|costs|number|"
    r"percentage|percent|amount|figure|figures|budget|salary|fee|fees|when|what year|what date|how soon)\b", re.I,
)
# A figure and the two words either side of it: "the £4.50 rate that we've set".
_FIGURE = re.compile(r"(?:\S+\s+){0,2}\S*\d\S*(?:\s+\S+){0,2}")
_ASKS_FOR_NAME = re.compile(r"^\s*(?:who|whom|whose|which (?:person|people|member|members|organi[sz]ation|group|company))\b", re.I)
# A capitalised word after the sentence's first: a person, a place, an organisation.
_NAME = re.compile(r"(?<=\S)\s+(?!I\b)[A-Z][a-z]+")


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
        question_penalty: float, answer_bonus: float, cache_size: int = 20000, stored: StoredVectors | None = None,
    ) -> None:
        self.embedder = embedder
        self.max_quotes = max_quotes
        self.min_score = min_score
        self.keep_share = keep_share
        self.lexical_weight = lexical_weight
        self.question_penalty = question_penalty
        self.answer_bonus = answer_bonus
        # Sentence vectors by sentence text: the same passages come back for many questions.
        self._vectors: dict[str, np.ndarray] = {}
        self._cache_size = cache_size
        # Asked on each cache miss, since the engine may have loaded another generation meanwhile.
        self._stored = stored

    def generate(
        self, question: str, passages: Sequence[Passage], history: Sequence[Message] = (), focus: str | None = None
    ) -> Draft:
        candidates = self._candidates(focus or question, passages)
        candidates = [
            _Candidate(c.passage, c.start, c.end, c.text,
                       c.score + self._answer_shape(question, c.text, _asks(passages[c.passage - 1].chunk.text)))
            for c in candidates
        ]
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
            offset = chunk.char_start
            for start, end in quotable_sentences(chunk.text, offset):
                raw.append((number, chunk.document, start, end, chunk.text[start - offset : end - offset]))
        if not raw:
            return []
        question_vector = self.embedder.embed([question])[0]
        vectors = self._sentence_vectors(raw)
        cosines = vectors @ question_vector
        return [
            _Candidate(number, start, end, text, float(cos) + self.lexical_weight * term_overlap(question, text))
            for (number, _, start, end, text), cos in zip(raw, cosines)
        ]

    def _answer_shape(self, question: str, sentence: str, in_a_question: bool) -> float:
        """Penalty for the words of a turn that asks, bonus for a sentence carrying what is asked for."""
        shift = 0.0
        if in_a_question and not _ASKS_WHAT_WAS_ASKED.search(question):
            shift -= self.question_penalty
        if (_ASKS_FOR_FIGURE.search(question) and _figure_about(question, sentence)) or (
            _ASKS_FOR_NAME.search(question) and _NAME.search(sentence)
        ):
            shift += self.answer_bonus
        return shift

    def _sentence_vectors(self, raw: list[tuple[int, str, int, int, str]]) -> np.ndarray:
        # Keyed by the sentence itself: a vector depends on nothing else, so a replaced document
        # whose sentences moved (same offsets, other words) can never get the old vectors back.
        keys = [text for *_, text in raw]
        # A local copy, so that another thread clearing the cache cannot pull a vector away.
        found = {key: self._vectors.get(key) for key in keys}
        missing = [key for key in dict.fromkeys(keys) if found[key] is None]
        if missing:
            stored = self._stored() if self._stored else None
            if stored is not None:
                vectors, hits = stored.lookup(missing)
                found.update((key, vector) for key, vector, hit in zip(missing, vectors, hits) if hit)
            embed = [key for key in missing if found[key] is None]
            if embed:
                found.update(zip(embed, self.embedder.embed(embed)))
            if len(self._vectors) + len(missing) > self._cache_size:
                self._vectors.clear()
            self._vectors.update((key, found[key]) for key in missing)
        return np.stack([found[key] for key in keys])


def _asks(turn: str) -> bool:
    """Whether a turn (or its part) asks something: its other sentences lead up to the question."""
    return "?" in turn


def _figure_about(question: str, sentence: str) -> bool:
    """Whether a figure in ``sentence`` stands next to a word of the question ("£4.50 rate" for "rate")."""
    wanted = set(query_terms(question))
    return any(wanted & set(content_terms(m.group())) for m in _FIGURE.finditer(sentence))


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
