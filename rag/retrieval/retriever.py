"""Retrieval: dense and lexical (BM25) scores over chunks, each read in its turn's context, fused.

A turn is scored with its neighbours: in a meeting an answer is an exchange, and "Yeah." or
"Okay." between two relevant turns is part of it. Over a small index both signals are scored
exactly for every searched row and smoothed the same way.

A large index is searched in candidate mode instead: the store's nearest chunks (``ChunkStore.search``,
approximate where the store keeps an approximate index: the embedded store's segment HNSW, Postgres's
pgvector) and BM25's best rows, with their neighbours, are the only rows scored (exactly) and fused;
speaker and document filters pick rows from tables built at load, and reach the store as the
documents and stored speaker labels they stand for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.embedders.embedding import Embedder
from rag.indexing.index import TranscriptIndex
from rag.models import Passage
from rag.retrieval.lexical import BM25Index, weighted_query_terms
from rag.retrieval.moments import ScoreMoments
from rag.stores.rows import member, rows_by_value, union_rows

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
Fusion = Literal["rrf", "linear"]


@dataclass(frozen=True)
class RetrievalTuning:
    """How rankings are built and fused; ``Settings`` holds the tuned values and why."""

    candidate_k: int = 40
    rrf_k: int = 60
    fusion: Fusion = "rrf"
    # Linear fusion: share of the dense z-score in the fused score.
    dense_weight: float = 0.5
    # Each side, how many neighbouring chunks of the same document lend a turn their score,
    # and with what weight (their mean is added to the turn's own score).
    context_window: int = 0
    context_weight: float = 0.0
    # A chunk with fewer content terms than this ("Yeah.", "Okay, fine.") takes the mean of
    # its two neighbours' scores as its own, and is ranked below others of equal score.
    short_chunk_terms: int = 0
    short_chunk_penalty: float = 0.0
    # Soft preference for the speakers a query names (GET /search without a speaker filter):
    # added to their chunks' fused z-score, and ``exchange_boost`` to the chunks next to them.
    speaker_boost: float = 0.0
    exchange_boost: float = 0.0
    # BM25 idf counted over the searched documents only (all of the index when off).
    searched_idf: bool = False
    # Weight of the query terms found only in a "when discussing ..." clause (see lexical.py).
    background_weight: float = 1.0
    # A preferred speaker's chunk scores at least this share of the chunk before it, in each signal:
    # their answer is about what the question just before it asked, in the question's words.
    reply_share: float = 0.0
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    # Candidate mode: rows taken from the store's nearest and from BM25, and the largest filtered
    # row set that is scored exactly (and z-scored against) instead of asking the store.
    dense_pool: int = 100
    lexical_pool: int = 100
    exact_rows: int = 20_000


class Retriever:
    """Searches one loaded index; build it once per index generation and reuse it."""

    def __init__(
        self, index: TranscriptIndex, embedder: Embedder, *, candidate_k: int = 40, rrf_k: int = 60,
        tuning: RetrievalTuning | None = None, lexical: BM25Index | None = None, candidate_mode: bool = False,
        moments: ScoreMoments | None = None,
    ) -> None:
        """:param lexical: BM25 postings of ``index.chunks`` built beforehand (else built here from their texts).
        :param candidate_mode: score only candidate rows (see the module docstring).
        :param moments: the vectors' moments, so that candidate mode z-scores cosines against every row
            (without them, against the candidates).
        """
        self.index = index
        self.embedder = embedder
        self.tuning = tuning or RetrievalTuning(candidate_k=candidate_k, rrf_k=rrf_k)
        self.candidate_k = self.tuning.candidate_k
        self.rrf_k = self.tuning.rrf_k
        self.vocabulary = lexical or BM25Index([chunk.text for chunk in index.chunks], self.tuning.bm25_k1, self.tuning.bm25_b)
        if len(self.vocabulary) != len(index.chunks):
            raise ValueError("the lexical postings must cover the index's chunks, row for row")
        self.candidate_mode = candidate_mode
        self.moments = moments
        # Vectors stay in the store, read by chunk id: rows here are positions in ``index.chunks``.
        self._ids = np.array([chunk.id for chunk in index.chunks], dtype=object)
        self._document_of, self._rows_of = rows_by_value([c.document for c in index.chunks])
        self._speaker_of = np.array([c.speaker for c in index.chunks], dtype=object)
        self._rows_of_speaker = rows_by_value(self._speaker_of.tolist())[1]
        self._row_of_id: dict[str, int] = {}
        # Each person's (document, stored speaker) pairs, and each stored speaker's documents.
        self._labels_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._documents_of_label: dict[str, set[str]] = defaultdict(set)
        if candidate_mode:
            self._row_of_id = {chunk_id: row for row, chunk_id in enumerate(self._ids)}
            for (document, label), person in index.persons.items():
                self._labels_of[person].append((document, label))
                self._documents_of_label[label].add(document)

    def search(
        self,
        query: str,
        k: int,
        *,
        mode: Mode = "hybrid",
        speakers: Sequence[str] | None = None,
        document: str | None = None,
        documents: Collection[str] | None = None,
        query_vector: np.ndarray | None = None,
        prefer_speakers: Sequence[str] | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for ``query``, optionally only from some speakers or documents.

        :param documents: only these documents (with ``document``, the one in both).
        :param query_vector: the query's embedding, when the caller already computed it.
        :param prefer_speakers: speakers whose chunks (and the chunks around them) rank higher,
            without excluding anyone's.
        """
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {MODES}")
        wanted = set(documents) if documents is not None else None
        if document is not None:
            wanted = {document} & wanted if wanted is not None else {document}
        if wanted is not None and not wanted & self._rows_of.keys():
            return []
        tuning = self.tuning
        searched = None if wanted is None else self._document_rows(wanted)
        if not self.candidate_mode:
            rows = np.arange(len(self.index.chunks)) if searched is None else searched
            allowed = np.ones(len(rows), dtype=bool)
            if speakers:
                allowed = np.isin(self._speaker_of[rows], list(speakers))
            if not allowed.any():
                return []
        if query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        lexical = None
        if mode in ("bm25", "hybrid"):
            within = None
            if tuning.searched_idf and searched is not None:
                within = np.zeros(len(self.index.chunks), dtype=bool)
                within[searched] = True
            lexical = self.vocabulary.scores(query, weighted_query_terms(query, tuning.background_weight), within)
        spreads: dict[str, tuple[float, float]] = {}
        if self.candidate_mode:
            rows, allowed, spreads = self._candidates(
                query_vector, lexical, wanted, searched, speakers, prefer_speakers
            )
            if not allowed.any():
                return []
        exhaustive = not self.candidate_mode and wanted is None
        cosines = self.index.store.similarities(query_vector, None if exhaustive else list(self._ids[rows]))
        replying = (speakers or prefer_speakers) if tuning.reply_share else None

        def in_context(scores: np.ndarray) -> np.ndarray:
            # Restricted to some speakers, a chunk is wanted for its own words: the neighbours are
            # other people's (on the seed set, context moved MRR 0.901 -> 0.867 under the filter).
            if not speakers:
                scores = self._in_context(scores, rows)
            return self._as_replies(scores, rows, replying) if replying else scores

        signals: dict[str, np.ndarray] = {}
        if mode in ("dense", "hybrid"):
            signals["dense"] = in_context(cosines)
        if lexical is not None:
            signals["bm25"] = in_context(lexical[rows])
        ranks: dict[str, np.ndarray] = {}
        for name, signal in signals.items():
            order = np.argsort(-np.where(allowed, signal, -np.inf), kind="stable")
            usable = order[: int(allowed.sum())]
            if name == "bm25":
                usable = usable[signal[usable] > 0]
            rank = np.zeros(len(rows), dtype=np.int64)
            rank[usable[: tuning.candidate_k]] = np.arange(1, min(len(usable), tuning.candidate_k) + 1)
            ranks[name] = rank
        fused = self._fuse(signals, ranks, allowed, spreads)
        if tuning.short_chunk_penalty and tuning.short_chunk_terms:
            short = self.vocabulary.lengths[rows] < tuning.short_chunk_terms
            fused = fused - tuning.short_chunk_penalty * short * np.abs(fused)
        if prefer_speakers and (tuning.speaker_boost or tuning.exchange_boost):
            fused = fused + self._speaker_bonus(fused, rows, prefer_speakers)
        fused = np.where(allowed, fused, -np.inf)
        best = [i for i in np.argsort(-fused, kind="stable")[:k] if np.isfinite(fused[i])]
        return [
            Passage(
                chunk=self.index.chunks[int(rows[i])],
                score=float(fused[i]),
                dense_score=float(cosines[i]),
                ranks={name: int(rank[i]) for name, rank in ranks.items() if rank[i]},
            )
            for i in best
        ]

    def _document_rows(self, wanted: Collection[str]) -> np.ndarray:
        """The rows of these documents, sorted: each document's chunks stay contiguous for the neighbour context."""
        return union_rows(self._rows_of, wanted)

    def _candidates(
        self, query_vector: np.ndarray, lexical: np.ndarray | None, wanted: set[str] | None,
        searched: np.ndarray | None, speakers: Sequence[str] | None, prefer: Sequence[str] | None,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[float, float]]]:
        """Candidate mode's rows to score (sorted), which of them may be returned, and each signal's
        mean and spread over all the searched rows (for z-scores as if every row had been scored).

        :param wanted: the documents searched (``None``: all); ``searched``: their rows (sorted).

        The store's nearest chunks and BM25's best rows among the searched ones (and among the
        preferred speakers' rows, which a boost may lift), each with the neighbours their context reads.
        """
        if speakers:
            searched = self._restrict(searched, self._speaker_rows(speakers))
        if searched is not None and not len(searched):
            return searched, np.zeros(0, dtype=bool), {}
        found, spreads = self._pool(query_vector, lexical, searched, self._store_filters(wanted, speakers))
        if prefer and not speakers:
            preferred = self._restrict(searched, self._speaker_rows(prefer))
            if len(preferred):
                found = np.concatenate(
                    [found, self._pool(query_vector, lexical, preferred, self._store_filters(wanted, prefer))[0]]
                )
        rows = self._with_neighbours(np.unique(found))
        allowed = np.ones(len(rows), dtype=bool) if searched is None else member(rows, searched)
        return rows, allowed, spreads

    def _pool(
        self, query_vector: np.ndarray, lexical: np.ndarray | None, searched: np.ndarray | None,
        filters: list[tuple[set[str] | None, set[str] | None]],
    ) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
        """The best rows of ``searched`` (``None``: all) by each signal, and each signal's mean and spread there.

        :param filters: the same rows as the store's (documents, stored speakers) filters, whose union they are.
        """
        tuning = self.tuning
        spreads: dict[str, tuple[float, float]] = {}
        if searched is not None and len(searched) <= tuning.exact_rows:
            cosines = self.index.store.similarities(query_vector, list(self._ids[searched]))
            spreads["dense"] = (float(cosines.mean()), float(cosines.std()))
            pool = [searched[_top(cosines, tuning.dense_pool)]]
        else:
            if self.moments is not None:
                # Over the whole index even when some documents are searched: an approximation there.
                spreads["dense"] = self.moments.spread(query_vector)
            pool = [self._nearest(query_vector, filters)]
        if lexical is not None:
            chosen = lexical if searched is None else lexical[searched]
            spreads["bm25"] = (float(chosen.mean(dtype=np.float64)), float(chosen.std(dtype=np.float64)))
            scored = np.flatnonzero(lexical)
            if searched is not None:
                scored = scored[member(scored, searched)]
            pool.append(scored[_top(lexical[scored], tuning.lexical_pool)])
        return np.concatenate(pool), spreads

    def _nearest(self, query_vector: np.ndarray, filters: list[tuple[set[str] | None, set[str] | None]]) -> np.ndarray:
        """The rows of the store's ``dense_pool`` nearest chunks within the union of ``filters``."""
        size = self.tuning.dense_pool
        hits = [hit for documents, labels in filters
                for hit in self.index.store.search(query_vector, size, documents=documents, speakers=labels)]
        if len(filters) > 1:
            hits = sorted(hits, key=lambda hit: -hit[1])[:size]
        return np.fromiter((self._row_of_id[chunk_id] for chunk_id, _ in hits), dtype=np.int64, count=len(hits))

    def _store_filters(
        self, wanted: set[str] | None, persons: Sequence[str] | None
    ) -> list[tuple[set[str] | None, set[str] | None]]:
        """The store filters (documents, stored speakers) whose union is exactly the rows of ``wanted``
        documents spoken by ``persons``.

        The store knows speakers as stored; a person may be one label in some documents and another
        in others (a speaker map, questioner labels), so the pairs are grouped by the documents each
        label is that person in: one filter per group, usually one in all.
        """
        if not persons:
            return [(wanted, None)]
        documents_of: dict[str, set[str]] = defaultdict(set)
        for person in dict.fromkeys(persons):
            for document, label in self._labels_of.get(person, ()):
                if wanted is None or document in wanted:
                    documents_of[label].add(document)
        groups: dict[frozenset[str] | None, set[str]] = defaultdict(set)
        for label, documents in documents_of.items():
            # Every searched document where the label speaks: the documents need not be listed.
            everywhere = documents == {d for d in self._documents_of_label[label] if wanted is None or d in wanted}
            groups[None if everywhere else frozenset(documents)].add(label)
        return [(wanted if documents is None else set(documents), labels) for documents, labels in groups.items()]

    def _speaker_rows(self, speakers: Sequence[str]) -> np.ndarray:
        """The rows of these speakers' chunks, sorted."""
        return union_rows(self._rows_of_speaker, speakers)

    @staticmethod
    def _restrict(searched: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
        """``rows`` within ``searched`` (both sorted; ``None``: everything)."""
        return rows if searched is None else np.intersect1d(searched, rows, assume_unique=True)

    def _with_neighbours(self, found: np.ndarray) -> np.ndarray:
        """``found`` and the chunks of the same document within the context each one reads, sorted."""
        tuning = self.tuning
        window = max(
            tuning.context_window if tuning.context_weight else 0,
            1 if (tuning.short_chunk_terms or tuning.reply_share or tuning.exchange_boost) else 0,
        )
        rows = [found]
        for shift in range(1, window + 1):
            for near in (found - shift, found + shift):
                inside = (near >= 0) & (near < len(self._ids))
                near, origin = near[inside], found[inside]
                rows.append(near[self._document_of[near] == self._document_of[origin]])
        return np.unique(np.concatenate(rows))

    def _in_context(self, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each chunk's score plus ``context_weight`` times its neighbours' mean; short chunks folded."""
        tuning = self.tuning
        scores = scores.astype(np.float32)
        if tuning.short_chunk_terms:
            short = self.vocabulary.lengths[rows] < tuning.short_chunk_terms
            around = self._neighbour_mean(scores, rows, 1)
            scores = np.where(short, np.maximum(scores, around), scores)
        if tuning.context_window and tuning.context_weight:
            scores = scores + tuning.context_weight * self._neighbour_mean(scores, rows, tuning.context_window)
        return scores

    def _as_replies(self, scores: np.ndarray, rows: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        """``scores`` where each of ``speakers``' chunks takes at least ``reply_share`` of the previous chunk's."""
        replies = np.isin(self._speaker_of[rows], list(speakers))
        replies[0] = False
        replies[1:] &= self._adjacent(rows, 1)
        before = np.roll(scores, 1)
        return np.where(replies, np.maximum(scores, self.tuning.reply_share * before), scores)

    def _adjacent(self, rows: np.ndarray, shift: int) -> np.ndarray:
        """For each position from ``shift`` on, whether the row ``shift`` places before is the chunk
        ``shift`` before it in the same document (candidate rows have gaps; searched documents do not)."""
        return (self._document_of[rows[shift:]] == self._document_of[rows[:-shift]]) & (rows[shift:] - rows[:-shift] == shift)

    def _neighbour_mean(self, scores: np.ndarray, rows: np.ndarray, window: int) -> np.ndarray:
        """Mean score of the up to ``2 * window`` chunks around each one in the same document."""
        total = np.zeros_like(scores)
        count = np.zeros_like(scores)
        size = len(scores)
        for shift in range(1, window + 1):
            if shift >= size:
                break
            same = self._adjacent(rows, shift)
            total[shift:] += np.where(same, scores[:-shift], 0.0)
            count[shift:] += same
            total[:-shift] += np.where(same, scores[shift:], 0.0)
            count[:-shift] += same
        return np.divide(total, count, out=np.zeros_like(total), where=count > 0)

    def _fuse(
        self, signals: dict[str, np.ndarray], ranks: dict[str, np.ndarray], allowed: np.ndarray,
        spreads: dict[str, tuple[float, float]],
    ) -> np.ndarray:
        """One score per row: reciprocal-rank fusion, or a weighted sum of z-scores.

        :param spreads: a signal's mean and spread to z-score with (else those of its allowed rows).
        """
        tuning = self.tuning
        if tuning.fusion == "rrf" or len(signals) == 1:
            fused = np.zeros(len(allowed), dtype=np.float64)
            for name, rank in ranks.items():
                fused += np.where(rank > 0, 1.0 / (tuning.rrf_k + rank), 0.0)
            if len(signals) == 1:
                # Beyond the candidates, keep the signal's own order (the dense list is exhaustive).
                signal = next(iter(signals.values()))
                fused = np.where(fused > 0, fused, 0.0) + 1e-9 * _zscore(signal, allowed)
            return _zscore(fused, allowed)
        weights = {"dense": tuning.dense_weight, "bm25": 1.0 - tuning.dense_weight}
        return sum(weights[name] * _zscore(signal, allowed, spreads.get(name)) for name, signal in signals.items())

    def _speaker_bonus(self, fused: np.ndarray, rows: np.ndarray, prefer: Sequence[str]) -> np.ndarray:
        tuning = self.tuning
        theirs = np.isin(self._speaker_of[rows], list(prefer)).astype(np.float32)
        near = self._neighbour_mean(theirs, rows, 1) > 0
        return tuning.speaker_boost * theirs + tuning.exchange_boost * (near & (theirs == 0))


def _zscore(values: np.ndarray, allowed: np.ndarray, given: tuple[float, float] | None = None) -> np.ndarray:
    """``values`` centred and scaled over the allowed rows, or by a ``given`` mean and spread (0 where they do not vary)."""
    if given is None:
        chosen = values[allowed]
        given = (float(chosen.mean()), float(chosen.std())) if chosen.size else (0.0, 0.0)
    mean, spread = given
    if spread == 0.0:
        return np.zeros(len(values), dtype=np.float64)
    return (values - mean) / spread


def _top(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` largest ``values`` (in no particular order)."""
    if len(values) <= n:
        return np.arange(len(values))
    return np.argpartition(-values, n)[:n]
