import numpy as np
import pytest

from rag.retrieval.lexical import BM25Index, content_terms, query_terms, weighted_query_terms

# Two meetings: the first talks about the remote all the time, the second never does.
MEETING_A = [
    "The remote needs a battery.",
    "A remote with a scroll wheel.",
    "The remote should be yellow.",
    "Rubber for the remote case.",
]
MEETING_B = ["The budget is twelve euros.", "Sales figures for spring.", "The weather was fine."]


@pytest.fixture(scope="module")
def index():
    return BM25Index(MEETING_A + MEETING_B)


def test_stems_meet_and_stopwords_go():
    assert content_terms("The sanctions were discussed") == content_terms("sanction discussing")


def test_question_words_are_dropped_from_queries_only():
    assert query_terms("Summarize the discussion about the budget") == ["budget"]
    assert "discuss" in content_terms("Summarize the discussion about the budget")


def test_idf_over_the_whole_index_takes_a_meetings_common_word_for_a_rare_one(index):
    everywhere = index.scores("remote battery")
    assert everywhere[0] > 0
    # Over all seven texts "remote" (in 4) still counts; within meeting A it is in every text.
    within = np.zeros(len(MEETING_A) + len(MEETING_B), dtype=bool)
    within[: len(MEETING_A)] = True
    searched = index.scores("remote battery", within=within)
    assert searched[1] < everywhere[1]
    assert np.argmax(searched[: len(MEETING_A)]) == 0


def test_a_word_absent_from_the_searched_texts_scores_nothing(index):
    within = np.zeros(len(MEETING_A) + len(MEETING_B), dtype=bool)
    within[len(MEETING_A):] = True
    assert not index.scores("remote", within=within).any()
    assert index.scores("budget", within=within)[len(MEETING_A)] > 0


def test_the_when_discussing_clause_weighs_less_than_what_is_asked():
    weights = weighted_query_terms("What did Marketing think of rubber when discussing the remote case?", 0.5)
    assert weights == {"market": 1.0, "rubber": 1.0, "remot": 0.5, "case": 0.5}
    assert weighted_query_terms("What about the remote?", 0.5) == {"remot": 1.0}


def test_weighted_terms_scale_their_scores(index):
    plain = index.scores("", {"rubber": 1.0, "remot": 1.0})
    halved = index.scores("", {"rubber": 1.0, "remot": 0.5})
    assert halved[3] < plain[3]
    assert halved[0] == pytest.approx(plain[0] / 2)
