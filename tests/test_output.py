"""The answer's JSON shape: ``rag.models`` fields, the CLI's dicts and the API schema must agree."""

from __future__ import annotations

from dataclasses import fields

from api.schemas import AnswerPublic, CitationPublic, PassagePublic
from rag.answering.output import answer_to_dict, passage_to_dict
from rag.models import Answer, Chunk, Citation, Passage

CHUNK = Chunk(id="town:0:0", document="town", turn=0, part=0, speaker="ALICE", label="Alice",
              text="The budget grows.", char_start=7, char_end=24)
CITATION = Citation(id=1, quote="The budget grows.", speaker="ALICE", label="Alice", document="town", turn=0,
                    char_start=7, char_end=24)


def test_the_api_answer_schema_has_exactly_the_answer_fields():
    assert set(AnswerPublic.model_fields) == {field.name for field in fields(Answer)}
    assert set(CitationPublic.model_fields) == {field.name for field in fields(Citation)}


def test_an_answer_dict_validates_against_the_api_schema_unchanged():
    answer = Answer(question="What grows?", answer="[1]", refused=False, generator="extractive",
                    citations=[CITATION], passages=[Passage(chunk=CHUNK, score=1.5, dense_score=0.5, ranks={"dense": 1})],
                    timings_ms={"total": 3.0}, scope=["town"])
    shown = answer_to_dict(answer)
    assert AnswerPublic.model_validate(shown).model_dump() == shown
    assert shown["citations"][0]["char_start"] == 7 and shown["passages"] == [passage_to_dict(answer.passages[0])]
    assert set(PassagePublic.model_fields) == set(shown["passages"][0])
