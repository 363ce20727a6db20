"""The retriever over a real embedded store holding hand-made 4-d vectors (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embedders.embedding import HashEmbedder
from rag.indexing.index import TranscriptIndex
from rag.retrieval.retriever import RetrievalTuning, Retriever
from rag.stores.embedded import EmbeddedBackend
from tests.test_store_conformance import put

# Axes: school budget, weather, bridge, ferry (see tests/test_store_conformance.py).
SCHOOL_BRIDGE = np.array([0.6, 0, 0.8, 0], dtype=np.float32)


@pytest.fixture
def index(tmp_path) -> TranscriptIndex:
    backend = EmbeddedBackend(tmp_path / "index")
    put(backend, "budget", "harbour")
    return TranscriptIndex(backend.open())


def retriever(index: TranscriptIndex, **tuning) -> Retriever:
    # The embedder is never called: every search passes its query vector.
    return Retriever(index, HashEmbedder(dim=4), tuning=RetrievalTuning(context_window=0, **tuning))


def ids(passages) -> list[str]:
    return [p.chunk.id for p in passages]


def test_dense_ranks_by_cosine_and_reports_it(index):
    passages = retriever(index).search("school bridge", 3, mode="dense", query_vector=SCHOOL_BRIDGE)
    assert ids(passages) == ["budget:2:0", "harbour:0:0", "budget:0:0"]
    np.testing.assert_allclose([p.dense_score for p in passages], [0.96, 0.8, 0.6], atol=1e-6)
    assert [p.ranks for p in passages] == [{"dense": 1}, {"dense": 2}, {"dense": 3}]


def test_filters_by_speaker_and_document(index):
    search = retriever(index).search
    assert ids(search("x", 5, mode="dense", speakers=["CAROL"], query_vector=SCHOOL_BRIDGE)) == ["harbour:1:0"]
    assert ids(search("x", 5, mode="dense", document="harbour", query_vector=SCHOOL_BRIDGE)) == [
        "harbour:0:0", "harbour:1:0"]
    assert search("x", 5, mode="dense", document="harbour", speakers=["BOB"], query_vector=SCHOOL_BRIDGE) == []
    assert search("x", 5, mode="dense", documents=["nowhere"], query_vector=SCHOOL_BRIDGE) == []


def test_bm25_ranks_only_by_words(index):
    passages = retriever(index).search("the ferry in winter", 2, mode="bm25", query_vector=SCHOOL_BRIDGE)
    assert ids(passages)[0] == "harbour:1:0"
    assert passages[0].ranks == {"bm25": 1}


def test_hybrid_fuses_both_rankings_by_reciprocal_rank(index):
    # The vector points at the school and the bridge, the words at the ferry. With rrf_k=1 the
    # ferry turn gets 1/(1+5) + 1/(1+1) = 0.67, the bridge-and-school turn 1/(1+1) = 0.5, and the
    # others 1/3, 1/4 and 1/5 by their dense rank.
    passages = retriever(index, rrf_k=1).search("ferry", 5, mode="hybrid", query_vector=SCHOOL_BRIDGE)
    ranks = {p.chunk.id: p.ranks for p in passages}
    assert ranks["harbour:1:0"] == {"dense": 5, "bm25": 1}
    assert ids(passages) == ["harbour:1:0", "budget:2:0", "harbour:0:0", "budget:0:0", "budget:1:0"]
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_the_preferred_speaker_is_ranked_higher_without_excluding_others(index):
    plain = retriever(index).search("x", 5, mode="dense", query_vector=SCHOOL_BRIDGE)
    boosted = retriever(index, speaker_boost=10.0).search(
        "x", 5, mode="dense", query_vector=SCHOOL_BRIDGE, prefer_speakers=["CAROL"])
    assert ids(plain)[0] == "budget:2:0"
    assert ids(boosted)[0] == "harbour:1:0" and len(boosted) == 5
