"""The Postgres store beyond the conformance suite: transactions, concurrent writers, an unreachable
server, and the same answers as the embedded store on the real seed transcript."""

from __future__ import annotations

import threading
import time

import numpy as np
import psycopg
import pytest

from rag.engine import Engine, open_store
from rag.errors import StoreUnavailable
from rag.indexing.ingest import ingest_files
from rag.settings import Settings
from rag.stores.embedded import EmbeddedBackend
from rag.stores.postgres import PostgresBackend, schema_name
from tests.conftest import SEED
from tests.pg_server import postgres_url  # noqa: F401
from tests.test_store_conformance import DIM, EMBEDDER, VECTORS, chunks_of, put, transcript

QUESTIONS = [
    ("What did Lavrov say about the terrorist list?", None),
    ("What did Kerry say about Assad?", None),
    ("ceasefire", ["LAVROV"]),
]


def test_an_unreachable_server_is_store_unavailable():
    backend = PostgresBackend("postgresql://verbatim@127.0.0.1:1/verbatim?connect_timeout=2")
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        backend.stamp()
    with pytest.raises(StoreUnavailable):
        backend.open()
    assert "password" not in PostgresBackend("postgresql://me:secret@db.example/x").location


def test_a_failed_commit_leaves_no_half_document(postgres_url):
    backend = PostgresBackend(postgres_url)
    put(backend, "budget")
    assert backend.stamp() == 1
    with pytest.raises(RuntimeError, match="crash"):
        with backend.transaction(EMBEDDER, DIM) as transaction:
            harbour = transcript("harbour")
            transaction.put(harbour, chunks_of(harbour), VECTORS["harbour"])
            transaction.remove("budget")
            raise RuntimeError("crash after writing, before the commit")
    assert backend.stamp() == 1
    store = backend.open()
    assert list(store.documents()) == ["budget"]
    with psycopg.connect(postgres_url) as connection:
        rows = connection.execute(f"SELECT document, count(*) FROM {schema_name('default')}.chunks GROUP BY 1")
        assert rows.fetchall() == [("budget", 3)]


def test_two_writers_queue_and_both_commit(postgres_url):
    put(PostgresBackend(postgres_url), "budget")
    inside: list[tuple[str, float, float]] = []

    def write(document: str) -> None:
        backend = PostgresBackend(postgres_url)
        with backend.transaction(EMBEDDER, DIM) as transaction:
            entered = time.monotonic()
            parsed = transcript(document)
            transaction.put(parsed, chunks_of(parsed), VECTORS[document])
            time.sleep(0.3)
            inside.append((document, entered, time.monotonic()))
        backend.close()

    writers = [threading.Thread(target=write, args=(name,)) for name in ("budget", "harbour")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    (_, _, first_left), (_, second_entered, _) = sorted(inside, key=lambda entry: entry[1])
    assert second_entered >= first_left
    backend = PostgresBackend(postgres_url)
    assert backend.stamp() == 3
    assert sorted(backend.open().documents()) == ["budget", "harbour"]


def test_a_snapshot_stays_one_generation_while_a_writer_commits(postgres_url):
    backend = PostgresBackend(postgres_url)
    put(backend, "budget")
    before = backend.open()
    put(backend, "harbour")
    assert list(before.documents()) == ["budget"]
    assert before.generation == 1
    # The HNSW search of the old snapshot keeps to its own chunks.
    assert {chunk_id for chunk_id, _ in before.search(np.array([0, 0, 1, 0], dtype=np.float32), 5)} <= set(
        before.chunk_ids()
    )
    assert sorted(backend.open().documents()) == ["budget", "harbour"]


def test_the_seed_transcript_is_stored_exactly(postgres_url, minilm, counter, tmp_path):
    backend = PostgresBackend(postgres_url)
    embedded = EmbeddedBackend(tmp_path / "index")
    for target in (backend, embedded):
        ingest_files([SEED], target, minilm, count_tokens=counter.count, max_tokens=200, batch=64)
    stored, reference = backend.open(minilm.name), embedded.open(minilm.name)
    ids = list(reference.chunk_ids())
    assert list(stored.chunk_ids()) == ids
    assert stored.chunks() == reference.chunks()
    assert np.array_equal(stored.vectors(ids), reference.vectors(ids))
    document = next(iter(reference.documents()))
    text = stored.transcript(document).text
    assert text == reference.transcript(document).text
    assert all(text[chunk.char_start : chunk.char_end] == chunk.text for chunk in stored.chunks())
    # HNSW finds what an exact search finds on one transcript's chunks.
    query = minilm.embed(["the terrorist list coordinated by Jordan"])[0]
    assert [chunk_id for chunk_id, _ in stored.search(query, 10)] == [
        chunk_id for chunk_id, _ in reference.search(query, 10)
    ]


def test_answers_are_the_same_on_both_stores(postgres_url, minilm, counter, tmp_path):
    index_path = tmp_path / "index"
    embedded_settings = Settings(_env_file=None, index_path=index_path)
    postgres_settings = Settings(_env_file=None, index_path=index_path, store=postgres_url)
    for settings in (embedded_settings, postgres_settings):
        ingest_files([SEED], open_store(settings), minilm, count_tokens=counter.count, max_tokens=200, batch=64)
    engines = [Engine.load(settings, minilm) for settings in (embedded_settings, postgres_settings)]
    for question, speakers in QUESTIONS:
        found = [
            [(p.chunk.id, round(p.score, 6))
             for p in engine.snapshot.answerer.retriever.search(question, 6, speakers=speakers)]
            for engine in engines
        ]
        assert found[0] == found[1] and found[0]
    for question in ("What did Lavrov say about the terrorist list?", "What did Putin say about Iran?"):
        answers = [engine.ask(question) for engine in engines]
        assert answers[0].refused == answers[1].refused
        assert answers[0].answer == answers[1].answer
        assert [(c.document, c.char_start, c.char_end) for c in answers[0].citations] == [
            (c.document, c.char_start, c.char_end) for c in answers[1].citations
        ]
    assert answers[0].refused

