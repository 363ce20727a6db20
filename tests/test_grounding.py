"""Lexical grounding of an answer's own sentences in its quotations."""

from __future__ import annotations

import pytest

from rag.answering.grounding import grounding

QUOTE = "This process applies to the terrorist list that is coordinated by Jordan."


def test_words_of_the_quote_in_other_forms_support_the_summary():
    result = grounding("Jordan coordinates the terrorist list.", [QUOTE])
    assert (result.support, result.unsupported) == (1.0, ())
    assert result.holds(0.9)


def test_unsupported_words_are_named_and_lower_the_share():
    result = grounding("Saudi Arabia coordinates the terrorist list.", [QUOTE])
    assert result.unsupported == ("saudi", "arabia")
    assert result.support == pytest.approx(3 / 5)
    assert not result.holds(0.9) and result.holds(0.6)


def test_an_invented_number_fails_whatever_the_share():
    result = grounding("Jordan coordinated the terrorist list for 10 years.", [QUOTE, "For how many years?"])
    assert result.unsupported == ("10",) and result.support > 0.8
    assert not result.holds(0.0)


def test_every_source_counts_and_an_empty_summary_is_supported():
    assert grounding("Lavrov spoke of the list.", [QUOTE, "FOREIGN MINISTER LAVROV"]).unsupported == ("spoke",)
    assert grounding("", [QUOTE]).holds(1.0)
