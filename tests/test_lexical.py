"""BM25 and tokenisation on hand-made texts, with scores worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rag.retrieval.lexical import BM25Index, content_terms, query_terms, term_overlap, unknown_share

TEXTS = ["The budget, the budget and the school.", "The ferry stops.", "Budgets!"]


def test_content_terms_are_stemmed_without_stopwords_or_possessives():
    assert content_terms("The Minister's sanctions were discussed") == ["minist", "sanction", "discuss"]
    assert content_terms("a I to of") == []


def test_query_terms_drop_the_words_that_ask_but_keep_a_question_made_only_of_them():
    assert query_terms("Summarize the discussion about the ferry") == ["ferri"]
    assert query_terms("Summarize the discussion") == ["summar", "discuss"]


def test_bm25_scores_follow_the_okapi_formula():
    index = BM25Index(TEXTS, k1=1.2, b=0.75)
    np.testing.assert_array_equal(index.lengths, [3, 2, 1])
    average = 2.0
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))

    def term(tf: int, length: int) -> float:
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * length / average))

    np.testing.assert_allclose(index.scores("budget"), [term(2, 3), 0.0, term(1, 1)], rtol=1e-6)
    assert index.document_frequency("budget") == 2 and index.document_frequency("ferri") == 1
    np.testing.assert_array_equal(index.scores("weather"), [0.0, 0.0, 0.0])


def test_length_normalisation_is_off_with_b_zero():
    index = BM25Index(TEXTS, k1=1.2, b=0.0)
    scores = index.scores("budget")
    # Without length normalisation only the term frequency separates the two texts.
    assert scores[0] / scores[2] == pytest.approx((2 * 2.2 / 3.2) / (2.2 / 2.2))


def test_rare_terms_unknown_share_and_overlap():
    index = BM25Index(TEXTS, k1=1.2, b=0.75)
    assert index.rare_terms("ferry budget weather", max_share=0.0, floor=1) == {"ferri"}
    assert unknown_share("ferry weather", index) == 0.5
    assert term_overlap("school ferry", TEXTS[0]) == 0.5
    assert term_overlap("the of", TEXTS[0]) == 0.0
