"""The retriever on small hand-made meetings, indexed for real (hash embedder, FAISS on disk)."""

from __future__ import annotations

import pytest

from rag.embedders.hashing import HashEmbedder
from rag.engine import load_index
from rag.indexing.index import TranscriptIndex
from rag.indexing.ingest import ingest_files
from rag.retrieval.retriever import RetrievalTuning, Retriever
from rag.settings import Settings

# In the design meeting "remote" is in nearly every turn and "battery" in one; the other meeting
# never says "remote", so over the whole index "remote" looks rarer than it is in the design meeting.
DESIGN = [
    ("PROJECT MANAGER", "The remote is our product for this quarter."),
    ("MARKETING", "People lose the remote and want it to beep."),
    ("INDUSTRIAL DESIGNER", "A remote battery that lasts two years."),
    ("USER INTERFACE", "The remote gets a scroll wheel and a remote screen."),
    ("MARKETING", "Yellow sells well this year."),
    ("PROJECT MANAGER", "Rubber cases for the remote."),
]
FINANCE = [
    ("CHAIR", "The budget for the year is agreed."),
    ("TREASURER", "Spending on travel went down."),
    ("CHAIR", "Battery recycling costs rose a little."),
    ("TREASURER", "The accounts are audited in May."),
]


def _write(folder, name, turns):
    path = folder / f"{name}.txt"
    path.write_text("\n\n".join(f"{speaker}: {text}" for speaker, text in turns) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def index(tmp_path_factory, counter) -> TranscriptIndex:
    folder = tmp_path_factory.mktemp("meetings")
    paths = [_write(folder, "design", DESIGN), _write(folder, "finance", FINANCE)]
    ingest_files(paths, folder / "index", HashEmbedder(), count_tokens=counter.count, max_tokens=64, batch=64)
    return load_index(Settings(_env_file=None, embedder="hash"), index_path=folder / "index")


def _turns(retriever: Retriever, query: str, **options) -> list[int]:
    return [p.chunk.turn for p in retriever.search(query, 3, mode="bm25", document="design", **options)]


def test_searched_idf_ranks_the_meetings_rare_word_first(index):
    everywhere = Retriever(index, HashEmbedder(), tuning=RetrievalTuning(searched_idf=False))
    searched = Retriever(index, HashEmbedder(), tuning=RetrievalTuning(searched_idf=True))
    # Over both meetings "remote" (in 5 of 10 turns) outweighs "battery" (2 of 10), so the turn
    # saying "remote" twice wins; within the design meeting "remote" says nothing.
    assert _turns(everywhere, "remote screen battery")[0] == 3
    assert _turns(searched, "remote screen battery")[0] == 2


def test_the_when_discussing_clause_only_places_the_question(index):
    plain = Retriever(index, HashEmbedder(), tuning=RetrievalTuning(searched_idf=True, background_weight=1.0))
    weighted = Retriever(index, HashEmbedder(), tuning=RetrievalTuning(searched_idf=True, background_weight=0.2))
    question = "What did they think of yellow when discussing the beep of the lost remote?"
    assert _turns(plain, question)[0] == 1
    assert _turns(weighted, question)[0] == 4


def test_a_search_of_one_document_never_returns_another(index):
    retriever = Retriever(index, HashEmbedder(), tuning=RetrievalTuning(searched_idf=True))
    passages = retriever.search("battery", 10, mode="hybrid", document="finance")
    assert passages and {p.chunk.document for p in passages} == {"finance"}


def test_a_named_speakers_reply_takes_the_score_of_the_question_before_it(index):
    def first(reply_share: float, **options) -> int:
        tuning = RetrievalTuning(searched_idf=True, speaker_boost=1.0, reply_share=reply_share)
        return _turns(Retriever(index, HashEmbedder(), tuning=tuning), "beep", **options)[0]

    # Turn 1 (Marketing) says "beep"; the industrial designer's turn 2 answers it without the word.
    assert first(0.0, prefer_speakers=["INDUSTRIAL DESIGNER"]) == 1
    assert first(1.0, prefer_speakers=["INDUSTRIAL DESIGNER"]) == 2
    # Filtered to the designer, the same reply is found only through the question before it.
    assert first(1.0, speakers=["INDUSTRIAL DESIGNER"]) == 2
