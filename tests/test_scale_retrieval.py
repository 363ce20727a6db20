"""Candidate-mode retrieval for large indexes, on a small real store: dense candidates from
``ChunkStore.search`` (exact, through the segments' HNSW on disk, and Postgres), saved BM25 postings and
vector moments, the derived-structure cache, and the retriever's candidate mode against its exact mode."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embedders.hashing import HashEmbedder
from rag.errors import IndexCorrupt
from rag.formats import parse_transcript
from rag.indexing.chunking import chunk_transcript
from rag.indexing.index import TranscriptIndex
from rag.indexing.persons import SpeakerMap
from rag.retrieval.derived import fingerprint, load_or_build
from rag.retrieval.lexical import BM25Index, weighted_query_terms
from rag.retrieval.moments import ScoreMoments
from rag.retrieval.retriever import RetrievalTuning, Retriever
from rag.stores.embedded import EmbeddedBackend
from rag.stores.policy import AnnPolicy

EMBEDDER = HashEmbedder(dim=32)
MEETINGS = {
    "harbour-2020-01-01": [
        ("ALICE", "The ferry timetable changes in winter."),
        ("BOB", "Why does the ferry stop running so early?"),
        ("ALICE", "Because the harbour crew is smaller in winter."),
        ("CAROL", "Yeah."),
        ("BOB", "Could the council pay for a later ferry?"),
        ("ALICE", "The council budget has no room for it this year."),
    ],
    "schools-2020-02-01": [
        ("DAVID", "The school budget rises by four percent."),
        ("ERIN", "How many teachers does that pay for?"),
        ("DAVID", "About twelve new teachers across the district."),
        ("ERIN", "And the school buses?"),
        ("DAVID", "The buses stay as they are."),
    ],
    "bridge-2020-03-01": [
        ("FRANK", "The bridge repairs start in spring."),
        ("ALICE", "Will the ferry run while the bridge is closed?"),
        ("FRANK", "Yes, an extra ferry runs every hour during the repairs."),
        ("GRACE", "Okay."),
        ("FRANK", "The repairs cost the council two million."),
    ],
}
QUESTIONS = ["ferry in winter", "school budget teachers", "bridge repairs cost", "council budget", "buses"]


def _vectors(matrix_rows: int, dim: int, seed: int = 0) -> np.ndarray:
    matrix = np.random.default_rng(seed).standard_normal((matrix_rows, dim)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


# Every segment gets an HNSW whose candidate list covers it, and filters always go through it.
WHOLE_HNSW = AnnPolicy(min_rows=1, m=16, ef_construction=40, ef_search=2000, oversample=4, exact_rows=0)


def _filled(backend):
    with backend.transaction(EMBEDDER.name, EMBEDDER.dim) as transaction:
        for document, turns in MEETINGS.items():
            text = "".join(f"{speaker}: {words}\n\n" for speaker, words in turns)
            transcript = parse_transcript(text, document, format="text")
            chunks = chunk_transcript(transcript, lambda t: len(t.split()), 200)
            transaction.put(transcript, chunks, EMBEDDER.embed([c.text for c in chunks]))
    return backend


def _backend(path, ann: AnnPolicy | None = None) -> EmbeddedBackend:
    return _filled(EmbeddedBackend(path, ann=ann))


@pytest.fixture
def index(tmp_path) -> TranscriptIndex:
    return TranscriptIndex(_backend(tmp_path / "index").open())


@pytest.fixture(params=["exact", "hnsw", "postgres"])
def store_index(request, tmp_path) -> TranscriptIndex:
    """The index searched exactly by its store, through a segment HNSW (filters by ID selector), or by
    Postgres (pgvector's HNSW unfiltered, exact filtered)."""
    if request.param == "exact":
        return TranscriptIndex(_backend(tmp_path / "index").open())
    if request.param == "postgres":
        from rag.stores.postgres import PostgresBackend
        from tests.pg_server import shared_database_url

        return TranscriptIndex(_filled(PostgresBackend(shared_database_url(), tmp_path.name)).open())
    backend = _backend(tmp_path / "index", WHOLE_HNSW)
    backend.compact()
    store = backend.open()
    assert all(segment.ann is not None for segment in store.segments)
    return TranscriptIndex(store)


def _passages(passages) -> list[tuple[str, float, dict]]:
    return [(p.chunk.id, round(p.score, 6), p.ranks) for p in passages]


def test_score_moments_give_the_mean_and_spread_of_a_query_over_every_row(tmp_path):
    matrix = _vectors(1000, 16)
    query = _vectors(1, 16, seed=1)[0]
    moments = ScoreMoments.of((matrix[start: start + 128] for start in range(0, 1000, 128)), 16)
    scores = matrix @ query
    assert moments.spread(query) == pytest.approx((float(scores.mean()), float(scores.std())), abs=1e-5)
    moments.save(tmp_path / "m.npz")
    assert ScoreMoments.load(tmp_path / "m.npz").spread(query) == pytest.approx(moments.spread(query))
    (tmp_path / "bad.npz").write_bytes(b"not moments")
    with pytest.raises(IndexCorrupt):
        ScoreMoments.load(tmp_path / "bad.npz")


def test_saved_bm25_postings_score_exactly_as_built(tmp_path, index):
    texts = [c.text for c in index.chunks]
    built = BM25Index(texts, k1=1.2, b=0.75)
    built.save(tmp_path / "lexical.npz")
    loaded = BM25Index.load(tmp_path / "lexical.npz")
    within = np.zeros(len(texts), dtype=bool)
    within[:6] = True
    for question in QUESTIONS:
        terms = weighted_query_terms(question, 0.5)
        assert np.array_equal(built.scores(question, terms), loaded.scores(question, terms))
        assert np.array_equal(built.scores(question, terms, within), loaded.scores(question, terms, within))
    assert loaded.parameters == (1.2, 0.75) and len(loaded) == len(texts)
    assert loaded.document_frequency("ferri") == built.document_frequency("ferri") == 5
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt):
        BM25Index.load(tmp_path / "bad.npz")


def test_candidate_mode_covering_every_row_ranks_exactly_as_the_exact_mode(store_index):
    # Pools as large as the index make every row a candidate: the same rows, so the same scores.
    tuning = RetrievalTuning(fusion="linear", dense_weight=0.6, reply_share=1.0, speaker_boost=1.0,
                             dense_pool=100, lexical_pool=100, exact_rows=0)
    exact = Retriever(store_index, EMBEDDER, tuning=tuning)
    candidates = Retriever(store_index, EMBEDDER, tuning=tuning, candidate_mode=True)
    for question in QUESTIONS:
        for options in ({}, {"mode": "dense"}, {"mode": "bm25"}):
            found = candidates.search(question, 5, **options)
            assert _passages(found) == _passages(exact.search(question, 5, **options))
        # A preferred or filtered speaker's replies take their question's scores; candidate mode
        # z-scores BM25 with the spread of the scores before that (an approximation), so only the
        # order is the same.
        for options in ({"prefer_speakers": ["ALICE"]}, {"speakers": ["ALICE"]}, {"document": "bridge-2020-03-01"}):
            assert ([p.chunk.id for p in candidates.search(question, 5, **options)]
                    == [p.chunk.id for p in exact.search(question, 5, **options)])


def test_candidate_mode_scores_only_candidates_and_their_neighbours(store_index):
    tuning = RetrievalTuning(dense_pool=1, lexical_pool=1, reply_share=1.0, exact_rows=0)
    retriever = Retriever(store_index, EMBEDDER, tuning=tuning, candidate_mode=True)
    found = retriever.search("extra ferry every hour", 10)
    # The best dense and BM25 row (FRANK's extra ferry) and the turns on either side of it.
    assert {p.chunk.id for p in found} == {"bridge-2020-03-01:1:0", "bridge-2020-03-01:2:0", "bridge-2020-03-01:3:0"}
    assert found[0].chunk.id == "bridge-2020-03-01:2:0"


def test_candidate_neighbours_never_cross_into_another_document(index):
    retriever = Retriever(index, EMBEDDER, tuning=RetrievalTuning(reply_share=1.0), candidate_mode=True)
    last_of_first = len(MEETINGS["harbour-2020-01-01"]) - 1
    rows = retriever._with_neighbours(np.array([0, last_of_first]))
    assert list(rows) == [0, 1, last_of_first - 1, last_of_first]


@pytest.mark.parametrize("exact_rows", [0, 1000])
def test_candidate_mode_filters_by_speaker_and_document_through_row_tables(store_index, exact_rows):
    # exact_rows 0: the filter goes to ChunkStore.search; 1000: the few rows are scored exactly here.
    retriever = Retriever(store_index, EMBEDDER, tuning=RetrievalTuning(exact_rows=exact_rows), candidate_mode=True)
    alice = retriever.search("ferry", 10, speakers=["ALICE"])
    assert alice and {p.chunk.speaker for p in alice} == {"ALICE"}
    assert len(alice) == 4
    bridge = retriever.search("ferry", 10, document="bridge-2020-03-01")
    assert bridge and {p.chunk.document for p in bridge} == {"bridge-2020-03-01"}
    both = retriever.search("ferry", 10, document="bridge-2020-03-01", speakers=["ALICE"])
    assert [p.chunk.id for p in both] == ["bridge-2020-03-01:1:0"]
    assert retriever.search("ferry", 10, speakers=["NOBODY"]) == []
    assert retriever.search("ferry", 10, document="schools-2020-02-01", speakers=["ALICE"]) == []


def test_a_person_filter_reaches_the_store_as_the_labels_they_are_in_each_document(tmp_path):
    # In the bridge meeting the label ALICE is FRANK (a speaker map's per-document name): ALICE the
    # person is the label ALICE in the harbour meeting only, FRANK is two labels in the bridge meeting.
    speaker_map = SpeakerMap(documents={"bridge-2020-03-01": {"ALICE": "FRANK"}})
    index = TranscriptIndex(_backend(tmp_path / "index").open(), speaker_map)
    retriever = Retriever(index, EMBEDDER, tuning=RetrievalTuning(exact_rows=0), candidate_mode=True)
    assert retriever._store_filters(None, ["ALICE"]) == [({"harbour-2020-01-01"}, {"ALICE"})]
    assert sorted(retriever._store_filters(None, ["FRANK"]), key=str) == [
        (None, {"FRANK"}), ({"bridge-2020-03-01"}, {"ALICE"})]
    assert retriever._store_filters({"schools-2020-02-01"}, ["DAVID"]) == [({"schools-2020-02-01"}, {"DAVID"})]
    exact = Retriever(index, EMBEDDER, tuning=RetrievalTuning())
    for person in ("ALICE", "FRANK"):
        found = retriever.search("ferry", 10, speakers=[person])
        assert found and {p.chunk.speaker for p in found} == {person}
        assert [p.chunk.id for p in found] == [p.chunk.id for p in exact.search("ferry", 10, speakers=[person])]


def test_derived_structures_are_built_once_per_generation_and_reloaded(tmp_path, index):
    folder = tmp_path / "derived"
    (folder / "gen-000000-stale").mkdir(parents=True)
    first = load_or_build(folder, index, 1.2, 0.75, block=4)
    saved = sorted(p.name for p in (folder / fingerprint(index.store)).iterdir())
    assert saved == ["lexical-k1_1.2-b_0.75.npz", "moments.npz"]
    assert [p.name for p in folder.iterdir()] == [fingerprint(index.store)]
    stamps = {p.name: p.stat().st_mtime_ns for p in (folder / fingerprint(index.store)).iterdir()}
    again = load_or_build(folder, index, 1.2, 0.75)
    assert {p.name: p.stat().st_mtime_ns for p in (folder / fingerprint(index.store)).iterdir()} == stamps
    question = "ferry in winter"
    assert np.array_equal(first.lexical.scores(question), again.lexical.scores(question))
    query = EMBEDDER.embed([question])[0]
    cosines = index.store.similarities(query)
    assert again.moments.spread(query) == pytest.approx((float(cosines.mean()), float(cosines.std())), abs=1e-5)
