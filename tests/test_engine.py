"""The facade (``rag.engine.Engine``) with the real MiniLM and a real index on disk."""

from __future__ import annotations

import pytest

from rag.engine import Engine, ingest
from rag.errors import GeneratorError, UnknownDocument
from rag.formats.text import parse_text
from rag.settings import Settings

BUDGET = "The school budget will grow by ten percent next year."
WEATHER = "Heavy rain is expected across the whole county all weekend."
QUESTION = "What did Alice say about the school budget?"


def meeting(first: str, second: str) -> str:
    return f"ALICE: {first} {second}\n\nBOB: Thank you, Alice, that is all for today.\n"


@pytest.fixture
def engine(tmp_path, minilm) -> Engine:
    source = tmp_path / "council.txt"
    source.write_text(meeting(BUDGET, WEATHER), encoding="utf-8")
    settings = Settings(_env_file=None, index_path=tmp_path / "index")
    ingest(settings, [source], minilm)
    return Engine.load(settings, minilm)


def quoted(engine: Engine, question: str = QUESTION) -> list[tuple[str, int, int]]:
    answer = engine.ask(question, generator="extractive")
    return [(c.quote, c.char_start, c.char_end) for c in answer.citations]


def test_a_replaced_document_is_answered_from_its_new_text_not_from_cached_vectors(engine):
    text = meeting(BUDGET, WEATHER)
    assert quoted(engine) == [(BUDGET, text.index(BUDGET), text.index(BUDGET) + len(BUDGET))]

    # Same length, sentences swapped: the old offsets now hold the weather sentence.
    swapped = meeting(WEATHER, BUDGET)
    assert len(swapped) == len(text)
    report, summary = engine.commit(engine.prepare(parse_text(swapped, "council", "council.txt")))
    assert report.replaced == ["council"] and summary.record.sha256 != ""
    start = swapped.index(BUDGET)
    assert quoted(engine) == [(BUDGET, start, start + len(BUDGET))]
    assert engine.transcript("council").text[start : start + len(BUDGET)] == BUDGET


def test_a_question_is_answered_from_the_snapshot_it_was_checked_against(engine):
    question = engine.question(QUESTION, generator="extractive", document="council")
    engine.remove("council")
    with pytest.raises(UnknownDocument):
        engine.transcript("council")
    answer = engine.answer(question)
    assert [c.quote for c in answer.citations] == [BUDGET]


def test_a_generator_that_cannot_be_built_is_answered_for_by_the_extractive_one(engine):
    # No VERBATIM_OPENAI_BASE_URL: building the openai generator fails with a GeneratorError.
    answer = engine.ask(QUESTION, generator="openai")
    assert (answer.generator, answer.fallback, [c.quote for c in answer.citations]) == ("extractive", True, [BUDGET])
    with pytest.raises(GeneratorError, match="VERBATIM_OPENAI_BASE_URL"):
        engine.ask(QUESTION, generator="openai", fallback=False)


def test_a_generator_failing_with_a_foreign_error_type_reaches_the_fallback(engine):
    class Broken:
        name = "openai"

        def generate(self, question, passages, history=(), focus=None):
            return {}["a bug, not a GeneratorError"]

    engine.use_generator("openai", Broken())
    answer = engine.ask(QUESTION, generator="openai")
    assert (answer.generator, answer.fallback, [c.quote for c in answer.citations]) == ("extractive", True, [BUDGET])


def test_documents_speakers_status_and_search_read_one_loaded_index(engine):
    [summary] = engine.documents()
    assert (summary.record.id, summary.record.turns, summary.speakers) == ("council", 2, ("ALICE", "BOB"))
    described, transcript = engine.document("council")
    assert described == summary and transcript.text == meeting(BUDGET, WEATHER)
    assert [person.id for person in engine.speakers()] == ["ALICE", "BOB"]
    status = engine.status()
    assert (status.documents, status.chunks, status.generation) == (1, 2, 1)
    result = engine.search("  rain this weekend ", k=1)
    assert result.query == "rain this weekend" and result.k == 1
    assert [p.chunk.speaker for p in result.passages] == ["ALICE"]
    with pytest.raises(UnknownDocument):
        engine.document("nowhere")


def test_ingest_through_the_facade_is_visible_to_the_next_request(engine, tmp_path):
    harbour = tmp_path / "harbour.txt"
    harbour.write_text("CAROL: The ferry stops running in the winter months.\n", encoding="utf-8")
    report = engine.ingest([harbour])
    assert (report.added, engine.status().documents) == (["harbour"], 2)
    assert [c.document for c in engine.ask("When does the ferry stop?").citations] == ["harbour"]


def test_loading_an_engine_caps_the_blas_and_openmp_pools(engine):
    import faiss
    from threadpoolctl import threadpool_info

    from rag.compute_threads import limit_compute_threads

    pools = [pool for pool in threadpool_info() if pool["user_api"] in ("blas", "openmp")]
    assert pools and all(pool["num_threads"] == engine.settings.compute_threads for pool in pools)
    assert faiss.omp_get_max_threads() == engine.settings.compute_threads
    limit_compute_threads(2)
    assert faiss.omp_get_max_threads() == 2
    limit_compute_threads(engine.settings.compute_threads)
