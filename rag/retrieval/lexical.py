"""Lexical matching: tokenisation and an Okapi BM25 index over chunk texts (in memory; saved and loaded whole)."""

from __future__ import annotations

import functools
import math
import re
import zipfile
from array import array
from collections import Counter
from collections.abc import Container, Mapping, Sequence
from pathlib import Path

import numpy as np
import snowballstemmer

from rag.errors import IndexCorrupt

STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have he her his
    how i if in into is it its me my no not of on or our she so than that the their them then
    there these they this those to up us was we were what when where which who whom why will
    with would you your about also any just very said say says tell told think thought view hon
    views position regarding concerning does did mr mrs ms dr according""".split()
)
# Words a question uses to ask, not to say what about: "Summarize the discussion about X",
# "What did the group think of X". They are dropped from the query only (a transcript's
# "discussion" is still a word of it); on the choose split of qmsum-tune they cost BM25 MRR.
QUESTION_WORDS = frozenset(
    """summarize summarise summary discuss discussing discussion discussions discussed debate debated talk talked
    talking group team meeting meetings think thought opinion opinions please describe mention mentioned
    decide decided decision decisions reason reasons whole agree agreed""".split()
)
# "What did the designer think of X when discussing Y?": X is what is asked, Y only where to look.
_BACKGROUND = re.compile(r"\b(?:when|while)\s+\w+ing\b.*", re.IGNORECASE | re.DOTALL)
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_POSSESSIVE = ("'s", "’s")
# Texts whose content terms are remembered (questions and answer sentences; the BM25 index keeps its own).
_TERMS_CACHE_SIZE = 50_000
_STEMMER = snowballstemmer.stemmer("english")
# Snowball in pure Python costs ~60 µs a word (PyStemmer's C, which snowballstemmer uses when installed,
# ~1.4 µs); a transcript repeats its words, so remember them.
_STEMS: dict[str, str] = {}


def _stem(word: str) -> str:
    """The Snowball (Porter 2) stem: 'sanctions' meets 'sanction', 'discussion' meets 'discussed'."""
    stem = _STEMS.get(word)
    if stem is None:
        stem = _STEMMER.stemWord(word)
        if len(_STEMS) < 500_000:
            _STEMS[word] = stem
    return stem


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of ``text`` without stopwords or possessive endings."""
    return list(_content_terms(text))


# The extractive answer scores the same question against the same passages' sentences again and
# again (about 80 sentences an answer): remembering their terms took /ask from 5.1 to ~2 ms of CPU.
@functools.lru_cache(maxsize=_TERMS_CACHE_SIZE)
def _content_terms(text: str) -> tuple[str, ...]:
    terms = []
    for word in _WORD.findall(text.lower()):
        if word.endswith(_POSSESSIVE):  # not re.sub: a regex call a word was most of a reload's BM25 build
            word = word[:-2]
        if word not in STOPWORDS and len(word) > 1:
            terms.append(_stem(word))
    return tuple(terms)


def query_terms(question: str) -> list[str]:
    """The content terms of a question that say what it is about (``QUESTION_WORDS`` dropped)."""
    words = " ".join(w for w in _WORD.findall(question.lower()) if w not in QUESTION_WORDS)
    return content_terms(words) or content_terms(question)


def weighted_query_terms(question: str, background_weight: float = 1.0) -> dict[str, float]:
    """``query_terms`` with a weight each: ``background_weight`` for those only in a "when discussing ..." clause."""
    clause = _BACKGROUND.search(question)
    focus = question[: clause.start()] if clause else question
    weights = {term: background_weight for term in (query_terms(clause.group()) if clause else [])}
    weights.update({term: 1.0 for term in (query_terms(focus) if focus.strip() else [])})
    return weights or dict.fromkeys(query_terms(question), 1.0)


class BM25Index:
    """Okapi BM25 over a fixed list of texts: term -> postings, kept as flat arrays (compressed columns).

    Term ``t`` (id ``vocabulary[t]``) occurs in rows ``rows[start[t]:start[t + 1]]`` (ascending), with
    its BM25 term-frequency part there in ``weights`` (without the idf, which depends on which rows are
    searched). Flat arrays, so that a large index saves and loads them whole instead of re-reading
    every text (``save``/``load``).
    """

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        size = len(texts)
        vocabulary: dict[str, int] = {}
        term_ids, row_ids, frequencies = array("i"), array("i"), array("i")
        lengths = np.zeros(size, dtype=np.float32)
        for row, text in enumerate(texts):
            counts = Counter(content_terms(text))
            lengths[row] = sum(counts.values())
            for term, count in counts.items():
                term_ids.append(vocabulary.setdefault(term, len(vocabulary)))
                row_ids.append(row)
                frequencies.append(count)
        terms = np.frombuffer(term_ids, dtype=np.int32)
        # Stable: within a term, rows stay in ascending order, as they were appended.
        order = np.argsort(terms, kind="stable")
        rows = np.frombuffer(row_ids, dtype=np.int32)[order].astype(np.int64)
        tf = np.frombuffer(frequencies, dtype=np.int32)[order].astype(np.float32)
        average = float(lengths.mean()) if size else 0.0
        norm = k1 * (1 - b + b * lengths / (average or 1.0))
        start = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(vocabulary)), out=start[1:])
        self._set(vocabulary, start, rows, tf * (k1 + 1) / (tf + norm[rows]), lengths, (k1, b))

    def _set(
        self, vocabulary: dict[str, int], start: np.ndarray, rows: np.ndarray, weights: np.ndarray,
        lengths: np.ndarray, parameters: tuple[float, float],
    ) -> None:
        self._vocabulary, self._start, self._rows, self._weights = vocabulary, start, rows, weights
        self._lengths, self._size, self.parameters = lengths, len(lengths), parameters

    def save(self, path: Path) -> None:
        """Write the postings to ``path`` (a ``.npz``; the caller makes the switch atomic)."""
        with path.open("wb") as handle:
            np.savez(
                handle, terms=np.array(list(self._vocabulary), dtype=str), start=self._start, rows=self._rows,
                weights=self._weights, lengths=self._lengths, parameters=np.array(self.parameters, dtype=np.float64),
            )

    @classmethod
    def load(cls, path: Path) -> BM25Index:
        """The postings ``save`` wrote.

        :raises IndexCorrupt: missing, unreadable or inconsistent.
        """
        try:
            with np.load(path, allow_pickle=False) as stored:
                parts = {name: stored[name] for name in ("terms", "start", "rows", "weights", "lengths", "parameters")}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise IndexCorrupt(f"cannot read the lexical postings {path}: {exc}") from exc
        if len(parts["start"]) != len(parts["terms"]) + 1 or parts["start"][-1] != len(parts["rows"]):
            raise IndexCorrupt(f"the lexical postings {path} are inconsistent; delete the file to rebuild it")
        index = cls.__new__(cls)
        vocabulary = {str(term): number for number, term in enumerate(parts["terms"].tolist())}
        k1, b = (float(value) for value in parts["parameters"])
        index._set(vocabulary, parts["start"], parts["rows"], parts["weights"], parts["lengths"], (k1, b))
        return index

    def _posting(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        number = self._vocabulary.get(term)
        if number is None:
            return None
        first, last = self._start[number], self._start[number + 1]
        return self._rows[first:last], self._weights[first:last]

    def __contains__(self, term: str) -> bool:
        return term in self._vocabulary

    def __len__(self) -> int:
        return self._size

    def document_frequency(self, term: str) -> int:
        number = self._vocabulary.get(term)
        return 0 if number is None else int(self._start[number + 1] - self._start[number])

    def rare_terms(self, text: str, max_share: float = 0.02, floor: int = 3) -> set[str]:
        """Content terms of ``text`` found in at most ``max(floor, max_share * texts)`` texts."""
        limit = max(floor, int(max_share * self._size))
        return {t for t in content_terms(text) if 0 < self.document_frequency(t) <= limit}

    @property
    def lengths(self) -> np.ndarray:
        """How many content terms each text has."""
        return self._lengths

    def scores(
        self, query: str, terms: Sequence[str] | Mapping[str, float] | None = None, within: np.ndarray | None = None
    ) -> np.ndarray:
        """BM25 score of every text for ``query`` (or for ``terms``, each weighted when a mapping; zeros where nothing matches).

        :param within: a mask of the texts searched; a term's rarity (idf) is counted among them,
            so that a word common in one meeting is not taken for a rare one because the others lack it.
        """
        totals = np.zeros(self._size, dtype=np.float32)
        size = self._size if within is None else int(within.sum())
        if not isinstance(terms, Mapping):
            terms = dict.fromkeys(content_terms(query) if terms is None else terms, 1.0)
        for term, weight in terms.items():
            posting = self._posting(term)
            if posting is None:
                continue
            rows, weights = posting
            if within is not None:
                kept = within[rows]
                rows, weights = rows[kept], weights[kept]
            if len(rows):
                totals[rows] += weight * _idf(size, len(rows)) * weights
        return totals


def _idf(size: int, frequency: int) -> float:
    return math.log(1 + (size - frequency + 0.5) / (frequency + 0.5))


def unknown_share(question: str, vocabulary: Container[str]) -> float:
    """Share of the question's content terms that occur nowhere in ``vocabulary`` (an index, or a set of terms)."""
    terms = set(content_terms(question))
    if not terms:
        return 0.0
    return sum(term not in vocabulary for term in terms) / len(terms)


def term_overlap(question: str, text: str) -> float:
    """Share of the question's content terms that occur in ``text`` (0 when it has none)."""
    wanted = set(content_terms(question))
    if not wanted:
        return 0.0
    return len(wanted & set(content_terms(text))) / len(wanted)
