"""The sentence vectors ingest keeps beside the index for the extractive generator (rag/indexing/sentence_vectors.py).

A real index on disk and the real embedding files; the embedder is wrapped only to record
which texts a process had to embed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pytest

from rag.embedders.hashing import HashEmbedder
from rag.engine import Engine, ingest, sentence_cache
from rag.formats.text import parse_text
from rag.indexing import sentence_vectors
from rag.indexing.sentence_vectors import KEYS_SUFFIX, VECTORS_SUFFIX, SentenceVectors, chunk_sentences
from rag.settings import Settings
from tests.conftest import SEED

QUESTION = "What did Lavrov say about the terrorist list?"


class RecordingEmbedder(HashEmbedder):
    """The hash embedder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return super().embed(texts)


def _settings(index_path, **values) -> Settings:
    return Settings(_env_file=None, index_path=index_path, embedder="hash", **values)


def _answer(engine: Engine) -> list[tuple[str, int, int]]:
    answer = engine.ask(QUESTION, generator="extractive")
    assert answer.citations
    return [(c.quote, c.char_start, c.char_end) for c in answer.citations]


def _stored_sentences(engine: Engine) -> list[str]:
    return chunk_sentences(chunk.text for chunk in engine.snapshot.index.chunks)


@pytest.fixture
def indexed(tmp_path):
    """The seed transcript ingested with its sentence vectors, and the embedder that made them."""
    embedder = RecordingEmbedder()
    settings = _settings(tmp_path / "index")
    ingest(settings, [SEED], embedder)
    return settings, embedder


def test_ingest_stores_the_vector_of_every_quotable_sentence(indexed):
    settings, embedder = indexed
    engine = Engine.load(settings, embedder)
    sentences = _stored_sentences(engine)
    stored = SentenceVectors(settings.index_path, embedder.name, embedder.dim)
    vectors, found = stored.lookup(sentences)
    assert len(sentences) > 100 and found.all() and len(stored) == len(sentences)
    assert np.array_equal(vectors, HashEmbedder().embed(sentences))


def test_a_fresh_process_answers_from_the_stored_vectors_and_embeds_only_the_question(indexed):
    settings, _ = indexed
    embedder = RecordingEmbedder()  # a new process: no vector cached in memory
    engine = Engine.load(settings, embedder)
    with_stored = _answer(engine)
    # Only what retrieval searches for (the question without its speaker): no sentence.
    assert len(set(embedder.embedded)) == 1 and not set(embedder.embedded) & set(_stored_sentences(engine))

    (settings.index_path / sentence_vectors.FOLDER).rename(settings.index_path / "elsewhere")
    embedder = RecordingEmbedder()
    without = _answer(Engine.load(settings, embedder))
    assert with_stored == without
    assert set(embedder.embedded) & set(_stored_sentences(engine))


def test_sentences_missing_from_the_store_are_embedded_and_the_answer_is_the_same(indexed):
    settings, _ = indexed
    embedder = RecordingEmbedder()
    engine = Engine.load(settings, embedder)
    full = _answer(engine)
    folder = engine.snapshot.sentence_vectors.folder
    for path in folder.iterdir():
        path.unlink()
    # Keep every other sentence: the rest must be embedded by the answering process.
    sentences = _stored_sentences(engine)
    kept = sentences[::2]
    SentenceVectors(settings.index_path, embedder.name, embedder.dim).add(kept, HashEmbedder().embed(kept))

    embedder = RecordingEmbedder()
    engine = Engine.load(settings, embedder)
    assert _answer(engine) == full
    embedded = set(embedder.embedded) & set(sentences)
    assert embedded and not embedded & set(kept) and embedded <= set(sentences[1::2])


def test_another_embedder_never_reads_the_vectors_of_this_one(indexed):
    settings, embedder = indexed
    other = HashEmbedder(dim=32)
    assert len(SentenceVectors(settings.index_path, other.name, other.dim)) == 0
    assert len(SentenceVectors(settings.index_path, embedder.name, embedder.dim)) > 0


def test_a_replaced_document_gets_vectors_for_its_new_sentences_only(tmp_path):
    embedder = RecordingEmbedder()
    settings = _settings(tmp_path / "index")
    first = "The school budget will grow by ten percent next year, the mayor said today."
    second = "Heavy rain is expected across the whole county over the coming weekend."
    source = tmp_path / "council.txt"
    source.write_text(f"ALICE: {first} {second}\n", encoding="utf-8")
    ingest(settings, [source], embedder)
    engine = Engine.load(settings, embedder)
    third = "The new library on the market square opens its doors in the spring."
    embedder.embedded.clear()
    engine.commit(engine.prepare(parse_text(f"ALICE: {first} {third}\n", "council", "council.txt")))
    # The unchanged sentence was not embedded again; the new one is stored.
    assert first not in embedder.embedded and third in embedder.embedded
    _, found = engine.snapshot.sentence_vectors.lookup([first, second, third])
    assert found.tolist() == [True, True, True]


def test_reingesting_an_unchanged_transcript_writes_nothing(indexed):
    settings, embedder = indexed
    folder = Engine.load(settings, embedder).snapshot.sentence_vectors.folder
    before = sorted(p.name for p in folder.iterdir())
    ingest(settings, [SEED], embedder)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_ingest_stores_no_sentence_vectors_when_turned_off_and_the_next_ingest_stores_them_all(tmp_path):
    settings = _settings(tmp_path / "index", sentence_vectors=False)
    ingest(settings, [SEED], HashEmbedder())
    assert not (settings.index_path / sentence_vectors.FOLDER).exists()

    # An index built without them (or before they existed) gets every stored chunk's sentences on
    # its next ingest, even one that changes no document.
    turned_on = settings.model_copy(update={"sentence_vectors": True})
    report = ingest(turned_on, [SEED], HashEmbedder())
    assert report.unchanged == [SEED.stem]
    embedder = RecordingEmbedder()
    engine = Engine.load(turned_on, embedder)
    _, found = engine.snapshot.sentence_vectors.lookup(_stored_sentences(engine))
    assert found.all()
    _answer(engine)
    assert not set(embedder.embedded) & set(_stored_sentences(engine))


@pytest.mark.parametrize(
    "damage", ["truncated vectors", "garbage keys", "other dimension", "keys without vectors", "empty"]
)
def test_a_damaged_part_is_ignored_with_a_warning_and_its_sentences_are_embedded(indexed, damage, caplog):
    settings, _ = indexed
    embedder = RecordingEmbedder()
    full = _answer(Engine.load(settings, embedder))
    folder = Engine.load(settings, embedder).snapshot.sentence_vectors.folder
    (keys,) = folder.glob(f"*{KEYS_SUFFIX}")
    vectors = keys.with_name(keys.name[: -len(KEYS_SUFFIX)] + VECTORS_SUFFIX)
    if damage == "truncated vectors":
        vectors.write_bytes(vectors.read_bytes()[:1000])
    elif damage == "garbage keys":
        keys.write_bytes(b"not a numpy file")
    elif damage == "other dimension":
        np.save(vectors, np.zeros((len(np.load(keys)), 32), dtype=np.float32))
    elif damage == "empty":
        np.save(keys, np.zeros(0, dtype="S16"))
        np.save(vectors, np.zeros((0, 64), dtype=np.float32))
    else:
        vectors.unlink()

    embedder = RecordingEmbedder()
    with caplog.at_level(logging.WARNING, logger="verbatim.sentence_vectors"):
        engine = Engine.load(settings, embedder)
        assert _answer(engine) == full
    assert len(engine.snapshot.sentence_vectors) == 0
    assert f"ignoring the sentence vectors {keys.name[: -len(KEYS_SUFFIX)]}" in caplog.text
    assert set(embedder.embedded) & set(_stored_sentences(engine))


def test_parts_beyond_the_limit_are_merged_smallest_first_and_every_vector_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(sentence_vectors, "MAX_PARTS", 3)
    embedder = HashEmbedder()
    store = SentenceVectors(tmp_path, embedder.name, embedder.dim)
    big = [f"sentence number {i} of the first and largest ingest" for i in range(50)]
    store.add(big, embedder.embed(big))
    small = [[f"later sentence {n}.{i}" for i in range(n + 1)] for n in range(4)]
    for texts in small:
        store.add(texts, embedder.embed(texts))
    reopened = SentenceVectors(tmp_path, embedder.name, embedder.dim)
    every = big + [t for texts in small for t in texts]
    vectors, found = reopened.lookup(every)
    assert found.all() and np.array_equal(vectors, embedder.embed(every))
    sizes = sorted(len(np.load(p)) for p in reopened.folder.glob(f"*{KEYS_SUFFIX}"))
    # Five parts written, at most three kept; the first ingest's 50 were never rewritten.
    assert len(sizes) == 3 and 50 in sizes


def test_merging_a_part_into_one_holding_all_its_keys_keeps_that_part(tmp_path, monkeypatch):
    # Two ingests that opened the cache before either wrote store overlapping parts.
    monkeypatch.setattr(sentence_vectors, "MAX_PARTS", 2)
    embedder = HashEmbedder()
    first, second = (SentenceVectors(tmp_path, embedder.name, embedder.dim) for _ in range(2))
    both, one = ["the first sentence of them all", "the second one"], ["the first sentence of them all"]
    first.add(both, embedder.embed(both))
    second.add(one, embedder.embed(one))
    later = ["a third", "a fourth sentence", "and a fifth"]
    # Three parts: the two smallest ({first}, {first, second}) merge into the second of them.
    SentenceVectors(tmp_path, embedder.name, embedder.dim).add(later, embedder.embed(later))
    reopened = SentenceVectors(tmp_path, embedder.name, embedder.dim)
    _, found = reopened.lookup(both + later)
    assert found.all() and len(list(reopened.folder.glob(f"*{KEYS_SUFFIX}"))) == 2


def test_turned_off_or_on_a_shared_postgres_store_no_cache_is_read_or_written(tmp_path):
    folder = tmp_path / "index"
    assert sentence_cache(_settings(folder, sentence_vectors=False), folder, HashEmbedder()) is None
    # Replicas of one database are stateless: a cache in one replica's folder would miss the others' uploads.
    shared = _settings(folder).model_copy(update={"store": "postgresql://verbatim@127.0.0.1:9/verbatim"})
    assert sentence_cache(shared, folder, HashEmbedder()) is None
    assert sentence_cache(_settings(folder), folder, HashEmbedder()) is not None
