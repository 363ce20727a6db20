import json

import pytest

from rag.answering.answerer import NOT_COVERED
from rag.errors import BackendUnavailable, QuestionError
from rag.generators.base import Message
from rag.generators.llm import LLMGenerator, ScriptedChat
from rag.generators.prompts import PromptTemplate
from tests.conftest import ROOT, SEED

QUESTIONS = [
    "What did Lavrov say about the terrorist list?",
    "What did Kerry say about regime change in Syria?",
    "What did Kerry say about the Iran nuclear agreement?",
    "How did Lavrov respond to the humanitarian criticism?",
    "What is the timetable for the political transition?",
    "Who will meet in New York on Friday?",
    "What did they say about Ukraine and the Minsk agreements?",
    "Which groups are considered terrorist organizations?",
    "What did Kerry say about isolating Russia?",
    "Why did Lavrov mention Jordan?",
]


def assert_offsets_hold(answer):
    text = SEED.read_text(encoding="utf-8")
    for citation in answer.citations:
        assert text[citation.char_start : citation.char_end] == citation.quote
        assert f"[{citation.id}]" in answer.answer


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_citation_reproduces_its_quote_from_the_file(seed_engine, question):
    answer = seed_engine.snapshot.answerer.answer(question, seed_engine.generator("extractive"), seed_engine.options())
    assert not answer.refused
    assert answer.citations
    assert_offsets_hold(answer)


def test_lavrov_on_the_terrorist_list_cites_only_lavrov(seed_engine):
    answer = seed_engine.snapshot.answerer.answer(
        "What did Lavrov say about the terrorist list?", seed_engine.generator("extractive"), seed_engine.options()
    )
    assert {c.speaker for c in answer.citations} == {"LAVROV"}
    assert any("terrorist list that is coordinated by Jordan" in c.quote for c in answer.citations)
    assert {p.chunk.speaker for p in answer.passages} == {"LAVROV"}


@pytest.mark.parametrize(
    "question",
    ["What did they say about climate change?", "What is the capital of Australia?", "Who won the football match?"],
)
def test_questions_the_transcript_never_covers_are_refused(seed_engine, question):
    answer = seed_engine.snapshot.answerer.answer(question, seed_engine.generator("extractive"), seed_engine.options())
    assert answer.refused
    assert answer.answer == NOT_COVERED
    assert answer.citations == []


def test_a_person_who_never_speaks_gets_a_refusal_naming_them(seed_engine):
    answer = seed_engine.snapshot.answerer.answer(
        "What did Putin say about Syria?", seed_engine.generator("extractive"), seed_engine.options()
    )
    assert answer.refused
    assert answer.answer == "Putin does not speak in this transcript (speakers: Lavrov, Kerry, Moderator)."


def test_an_explicit_speaker_filter_restricts_passages(seed_engine):
    answer = seed_engine.snapshot.answerer.answer(
        "What about the opposition delegation?", seed_engine.generator("extractive"), seed_engine.options(speaker="Kerry")
    )
    assert {p.chunk.speaker for p in answer.passages} == {"KERRY"}


@pytest.mark.parametrize("question", ["", "   ", "x" * 1001])
def test_empty_or_huge_questions_are_rejected(seed_engine, question):
    with pytest.raises(QuestionError):
        seed_engine.snapshot.answerer.answer(question, seed_engine.generator("extractive"), seed_engine.options())


def _scripted(seed_engine, *replies):
    template = PromptTemplate(ROOT / "prompts" / "answer.j2")
    return LLMGenerator(ScriptedChat(replies), template, seed_engine.counter.count, context_tokens=4096, max_tokens=256)


def _reply(summary, *quotes):
    return json.dumps({"summary": summary, "quotes": [{"passage": p, "text": t} for p, t in quotes], "refused": False})


def test_llm_quotes_are_verified_fabrications_dropped_near_misses_repaired(seed_engine):
    reply = _reply(
        "Lavrov said Jordan coordinates the list [1] and made up something [2] and paraphrased [3].",
        (1, "This process applies to the terrorist list that is coordinated by Jordan"),
        (1, "Russia will never accept any terrorist list written in Washington"),
        (1, "Jordan is circulating the information to all the members"),
    )
    generator = _scripted(seed_engine, reply)
    # The summary check is off here: this test is about the quotes and the markers' renumbering.
    answer = seed_engine.snapshot.answerer.answer(
        "What did Lavrov say about the terrorist list?", generator, seed_engine.options(min_summary_support=0.0)
    )
    assert answer.quotes_dropped == 1
    assert answer.quotes_repaired == 1
    assert [c.status for c in answer.citations] == ["exact", "repaired"]
    assert answer.citations[1].quote == "Jordan is circulating this information to all the members"
    assert answer.answer.splitlines()[0] == (
        "Lavrov said Jordan coordinates the list [1] and made up something and paraphrased [2]."
    )
    assert_offsets_hold(answer)


def test_unverified_quotation_marks_in_the_summary_are_removed(seed_engine):
    reply = _reply(
        'Lavrov called it "a list written in Washington" [1].',
        (1, "This process applies to the terrorist list that is coordinated by Jordan"),
    )
    answer = seed_engine.snapshot.answerer.answer(
        "What did Lavrov say about the terrorist list?",
        _scripted(seed_engine, reply),
        seed_engine.options(min_summary_support=0.0),
    )
    assert answer.answer.splitlines()[0] == "Lavrov called it a list written in Washington [1]."


JORDAN_QUOTE = "This process applies to the terrorist list that is coordinated by Jordan"


@pytest.mark.parametrize(
    ("summary", "kept"),
    [
        ("Lavrov said the terrorist list is coordinated by Jordan [1].", True),
        ("Lavrov said Saudi Arabia coordinates the terrorist list [1].", False),  # a wrong fact
        ("Lavrov said Jordan coordinated the terrorist list 10 days ago [1].", False),  # an invented number
        ("Lavrov sees it as a significant step towards counterterrorism and progress [1].", False),
        # Words of the question are no support: echoed, they can assert what the quote denies.
        ("Lavrov said Washington writes the terrorist list [1].", False),
    ],
)
def test_a_summary_the_quotes_do_not_support_is_left_out(seed_engine, summary, kept):
    answer = seed_engine.snapshot.answerer.answer(
        "What did Lavrov say about the terrorist list?",
        _scripted(seed_engine, _reply(summary, (1, JORDAN_QUOTE))),
        seed_engine.options(),
    )
    assert [c.quote for c in answer.citations] == [JORDAN_QUOTE]
    assert answer.summary_dropped is not kept
    expected = ([summary] if kept else []) + [f"Lavrov: “{JORDAN_QUOTE}” [1]"]
    assert answer.answer.splitlines() == expected
    assert_offsets_hold(answer)


@pytest.mark.parametrize("reply", [BackendUnavailable("down"), "I cannot help with that.", _reply("x", (1, "Made-up words that were never spoken here"))])
def test_a_failing_or_garbage_backend_falls_back_to_a_labelled_extractive_answer(seed_engine, reply):
    answer = seed_engine.snapshot.answerer.answer(
        "What did Lavrov say about the terrorist list?",
        _scripted(seed_engine, reply),
        seed_engine.options(),
        fallback=seed_engine.generator("extractive"),
    )
    assert answer.fallback is True
    assert answer.generator == "extractive"
    assert answer.citations and not answer.refused
    assert_offsets_hold(answer)


def test_follow_up_questions_use_the_conversation(seed_engine):
    history = [Message("user", "What did Lavrov say about the terrorist list?"), Message("assistant", "…")]
    answer = seed_engine.snapshot.answerer.answer(
        "And what did Kerry say about it?", seed_engine.generator("extractive"), seed_engine.options(), history=history
    )
    assert {c.speaker for c in answer.citations} == {"KERRY"}
    assert any("terrorist" in c.quote for c in answer.citations)


def test_the_prompt_lists_passages_and_the_question(seed_engine):
    chat = ScriptedChat([_reply("s", (1, "This process applies to the terrorist list"))])
    template = PromptTemplate(ROOT / "prompts" / "answer.j2")
    generator = LLMGenerator(chat, template, seed_engine.counter.count, context_tokens=4096, max_tokens=256)
    seed_engine.snapshot.answerer.answer("What did Lavrov say about the terrorist list?", generator, seed_engine.options())
    prompt = chat.prompts[0]
    assert "[1] LAVROV (FOREIGN MINISTER LAVROV):" in prompt
    assert "\nQuestion: What did Lavrov say about the terrorist list?\n" in prompt
