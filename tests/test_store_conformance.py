"""What every store backend must do, on two hand-made transcripts with 4-d vectors.

A new backend joins by appending a factory to ``STORE_FACTORIES``: it gets a ``tmp_path`` and
returns a backend; called again with the same ``tmp_path`` it must reach the same stored data
(that is how "reopen" is tested). Mark it ``skipif`` when its server is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexMismatch, IndexNotFound, UnknownDocument
from rag.formats.text import parse_text
from rag.models import Chunk, Transcript
from rag.stores.base import ChunkStore, StoreBackend
from rag.stores.embedded import EmbeddedBackend

StoreFactory = Callable[[Path], StoreBackend]
def _postgres(tmp_path: Path) -> StoreBackend:
    # One database for the session's server; each test its own schema, named after its tmp_path.
    from rag.stores.postgres import PostgresBackend
    from tests.pg_server import shared_database_url

    return PostgresBackend(shared_database_url(), tmp_path.name)


STORE_FACTORIES: list = [
    pytest.param(lambda tmp_path: EmbeddedBackend(tmp_path / "index"), id="embedded"),
    pytest.param(_postgres, id="postgres"),
]

EMBEDDER, DIM = "hand-4", 4
BUDGET = "ALICE: The school budget grows.\n\nBOB: Rain is expected on Friday.\n\nALICE: We vote on the budget.\n"
HARBOUR = "ALICE: The bridge opens in May.\n\nCAROL: The ferry stops in winter.\n"
# One axis per topic: school budget, weather, bridge, ferry.
VECTORS = {
    "budget": np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0.8, 0, 0.6, 0]], dtype=np.float32),
    "harbour": np.array([[0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32),
}


def transcript(document: str) -> Transcript:
    return parse_text(BUDGET if document == "budget" else HARBOUR, document, f"{document}.txt")


def chunks_of(transcript: Transcript) -> list[Chunk]:
    return [
        Chunk(id=f"{turn.document}:{turn.index}:0", document=turn.document, turn=turn.index, part=0,
              speaker=turn.speaker, label=turn.label, text=turn.text, char_start=turn.char_start,
              char_end=turn.char_end)
        for turn in transcript.turns
    ]


def put(backend: StoreBackend, *documents: str, vectors: dict[str, np.ndarray] = VECTORS) -> None:
    with backend.transaction(EMBEDDER, DIM) as transaction:
        for document in documents:
            parsed = transcript(document)
            transaction.put(parsed, chunks_of(parsed), vectors[document])


@pytest.fixture(params=STORE_FACTORIES)
def make_backend(request, tmp_path) -> Callable[[], StoreBackend]:
    return lambda: request.param(tmp_path)


@pytest.fixture
def filled(make_backend) -> StoreBackend:
    backend = make_backend()
    put(backend, "budget", "harbour")
    return backend


def ids_of(store: ChunkStore, document: str) -> list[str]:
    return [chunk_id for chunk_id in store.chunk_ids() if chunk_id.startswith(f"{document}:")]


def test_nothing_committed_is_not_found(make_backend):
    with pytest.raises(IndexNotFound):
        make_backend().open()


def test_documents_transcripts_and_chunks_read_back_as_written(filled):
    store = filled.open(EMBEDDER)
    assert (store.embedder, store.dim) == (EMBEDDER, DIM)
    assert sorted(store.documents()) == ["budget", "harbour"]
    record = store.documents()["budget"]
    assert (record.sha256, record.source, record.turns, record.chunks) == (transcript("budget").sha256, "budget.txt", 3, 3)
    assert record.speakers == ["ALICE", "BOB"]
    assert store.transcript("harbour") == transcript("harbour")
    assert store.text("budget") == transcript("budget").text
    assert store.chunks(["harbour:1:0", "budget:0:0"]) == [chunks_of(transcript("harbour"))[1],
                                                           chunks_of(transcript("budget"))[0]]
    assert sorted(store.chunk_ids()) == ["budget:0:0", "budget:1:0", "budget:2:0", "harbour:0:0", "harbour:1:0"]
    assert [chunk.id for chunk in store.chunks()] == list(store.chunk_ids())
    with pytest.raises(UnknownDocument):
        store.transcript("nowhere")
    with pytest.raises(UnknownDocument):
        store.text("nowhere")


def test_each_documents_chunks_are_together_and_in_text_order(filled):
    ids = list(filled.open().chunk_ids())
    for document, count in (("budget", 3), ("harbour", 2)):
        start = ids.index(f"{document}:0:0")
        assert ids[start : start + count] == [f"{document}:{turn}:0" for turn in range(count)]


def test_vectors_and_similarities_are_addressed_by_chunk_id(filled):
    store = filled.open()
    np.testing.assert_allclose(store.vectors(["harbour:1:0", "budget:2:0"]), [[0, 0, 0, 1], [0.8, 0, 0.6, 0]])
    query = np.array([0.6, 0, 0.8, 0], dtype=np.float32)
    np.testing.assert_allclose(store.similarities(query, ["budget:2:0", "harbour:0:0", "budget:1:0"]),
                               [0.96, 0.8, 0.0], atol=1e-6)
    every = store.similarities(query)
    expected = {"budget:0:0": 0.6, "budget:1:0": 0.0, "budget:2:0": 0.96, "harbour:0:0": 0.8, "harbour:1:0": 0.0}
    np.testing.assert_allclose(every, [expected[chunk_id] for chunk_id in store.chunk_ids()], atol=1e-6)


def test_search_ranks_by_inner_product_best_first(filled):
    store = filled.open()
    found = store.search(np.array([0.6, 0, 0.8, 0], dtype=np.float32), 3)
    assert [chunk_id for chunk_id, _ in found] == ["budget:2:0", "harbour:0:0", "budget:0:0"]
    np.testing.assert_allclose([score for _, score in found], [0.96, 0.8, 0.6], atol=1e-6)
    assert len(store.search(np.array([1, 0, 0, 0], dtype=np.float32), 50)) == 5
    assert store.search(np.array([1, 0, 0, 0], dtype=np.float32), 0) == []


def test_search_filters_by_document_and_speaker(filled):
    store = filled.open()
    bridge = np.array([0, 0, 1, 0], dtype=np.float32)
    school_bridge = np.array([0.6, 0, 0.8, 0], dtype=np.float32)
    assert [c for c, _ in store.search(school_bridge, 2, documents={"budget"})] == ["budget:2:0", "budget:0:0"]
    ferry_then_rain = np.array([0, 0.6, 0, 0.8], dtype=np.float32)
    assert [c for c, _ in store.search(ferry_then_rain, 5, speakers={"CAROL", "BOB"})] == ["harbour:1:0", "budget:1:0"]
    assert [c for c, _ in store.search(bridge, 5, documents={"harbour"}, speakers={"ALICE"})] == ["harbour:0:0"]
    assert store.search(bridge, 5, documents={"nowhere"}) == []
    assert store.search(bridge, 5, documents={"budget"}, speakers={"CAROL"}) == []


def test_remove_forgets_a_document_and_keeps_the_others_ids_and_vectors(filled):
    before = filled.open()
    kept = {chunk_id: before.vectors([chunk_id])[0] for chunk_id in ids_of(before, "harbour")}
    with filled.transaction(EMBEDDER, DIM) as transaction:
        transaction.remove("budget")
        assert list(transaction.documents()) == ["harbour"]
    after = filled.open()
    assert list(after.documents()) == ["harbour"]
    assert list(after.chunk_ids()) == list(kept)
    for chunk_id, vector in kept.items():
        np.testing.assert_array_equal(after.vectors([chunk_id])[0], vector)
    with pytest.raises(UnknownDocument):
        after.transcript("budget")
    found = after.search(np.array([0, 0, 0.6, 0.8], dtype=np.float32), 5)
    assert [c for c, _ in found] == ["harbour:1:0", "harbour:0:0"]
    with pytest.raises(UnknownDocument):
        with filled.transaction(EMBEDDER, DIM) as transaction:
            transaction.remove("budget")


def test_put_replaces_an_earlier_version_of_the_same_document(filled):
    turned = {**VECTORS, "harbour": np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32)}
    put(filled, "harbour", vectors=turned)
    store = filled.open()
    assert sorted(store.chunk_ids()) == ["budget:0:0", "budget:1:0", "budget:2:0", "harbour:0:0", "harbour:1:0"]
    np.testing.assert_array_equal(store.vectors(["harbour:0:0"]), [[1, 0, 0, 0]])
    assert store.documents()["harbour"].chunks == 2


def test_a_failure_inside_a_transaction_leaves_the_previous_generation(filled):
    before = filled.open()
    stamp = filled.stamp()
    with pytest.raises(RuntimeError, match="crash between steps"):
        with filled.transaction(EMBEDDER, DIM) as transaction:
            transaction.remove("harbour")
            parsed = transcript("budget")
            transaction.put(parsed, chunks_of(parsed), VECTORS["budget"][::-1].copy())
            raise RuntimeError("crash between steps")
    after = filled.open()
    assert filled.stamp() == stamp
    assert after.generation == before.generation
    assert sorted(after.documents()) == ["budget", "harbour"]
    np.testing.assert_array_equal(after.vectors(["budget:0:0"]), [[1, 0, 0, 0]])


def test_a_snapshot_does_not_change_when_a_commit_lands(filled):
    before = filled.open()
    stamp = filled.stamp()
    with filled.transaction(EMBEDDER, DIM) as transaction:
        transaction.remove("budget")
    assert filled.stamp() != stamp
    assert filled.open().generation > before.generation
    assert sorted(before.documents()) == ["budget", "harbour"]
    assert len(before.chunk_ids()) == 5
    np.testing.assert_array_equal(before.vectors(["budget:0:0"]), [[1, 0, 0, 0]])


def test_a_new_backend_at_the_same_place_reads_what_was_committed(filled, make_backend):
    reopened = make_backend()
    store = reopened.open(EMBEDDER)
    assert sorted(store.documents()) == ["budget", "harbour"]
    np.testing.assert_array_equal(store.vectors(["harbour:0:0"]), [[0, 0, 1, 0]])
    assert store.transcript("budget").text == BUDGET
    assert reopened.stamp() == filled.stamp()


def test_another_embedder_is_refused_on_open_and_on_write(filled):
    with pytest.raises(IndexMismatch):
        filled.open("another-embedder")
    with pytest.raises(IndexMismatch):
        with filled.transaction("another-embedder", DIM):
            pass
