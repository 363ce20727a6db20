"""Retrieval: dense (FAISS) and lexical (BM25) rankings over chunks, fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np

from rag.embedding import Embedder
from rag.index import TranscriptIndex
from rag.lexical import BM25Index
from rag.models import Passage

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")


class Retriever:
    """Searches one loaded index; build it once per index generation and reuse it."""

    def __init__(self, index: TranscriptIndex, embedder: Embedder, *, candidate_k: int = 40, rrf_k: int = 60) -> None:
        self.index = index
        self.embedder = embedder
        self.candidate_k = candidate_k
        self.rrf_k = rrf_k
        self.vocabulary = BM25Index([chunk.text for chunk in index.chunks])
        self._vectors = index.store.vectors()

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
    ) -> list[Passage]:
        """The ``k`` best passages for ``query``, optionally only from some speakers or documents.

        :param documents: only these documents (with ``document``, the one in both).
        :param query_vector: the query's embedding, when the caller already computed it.
        """
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {MODES}")
        wanted = set(documents) if documents is not None else None
        if document:
            wanted = {document} & wanted if wanted is not None else {document}
        allowed = self._allowed_rows(speakers, wanted)
        if allowed is not None and not allowed:
            return []
        if query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        rankings: dict[str, list[int]] = {}
        if mode in ("dense", "hybrid"):
            rankings["dense"] = [row for row, _ in self.index.store.search(query_vector, self.candidate_k, allowed)]
        if mode in ("bm25", "hybrid"):
            rankings["bm25"] = self._bm25_ranking(query, allowed)
        fused: dict[int, float] = {}
        ranks: dict[int, dict[str, int]] = {}
        for name, rows in rankings.items():
            for rank, row in enumerate(rows, start=1):
                fused[row] = fused.get(row, 0.0) + 1.0 / (self.rrf_k + rank)
                ranks.setdefault(row, {})[name] = rank
        best = sorted(fused, key=lambda row: (-fused[row], row))[:k]
        return [
            Passage(
                chunk=self.index.chunks[row],
                score=fused[row],
                dense_score=float(self._vectors[row] @ query_vector),
                ranks=ranks[row],
            )
            for row in best
        ]

    def _allowed_rows(self, speakers: Sequence[str] | None, documents: set[str] | None) -> list[int] | None:
        if not speakers and documents is None:
            return None
        wanted = set(speakers or ())
        return [
            row
            for row, chunk in enumerate(self.index.chunks)
            if (not wanted or chunk.speaker in wanted) and (documents is None or chunk.document in documents)
        ]

    def _bm25_ranking(self, query: str, allowed: list[int] | None) -> list[int]:
        scores = self.vocabulary.scores(query)
        if allowed is not None:
            mask = np.full(scores.shape, -1.0, dtype=np.float32)
            mask[allowed] = scores[allowed]
            scores = mask
        order = np.argsort(-scores, kind="stable")[: self.candidate_k]
        return [int(row) for row in order if scores[row] > 0]
