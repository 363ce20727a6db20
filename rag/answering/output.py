"""Plain-dict views of answers and passages: the JSON shape shared by the CLI and the API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rag.indexing.persons import Person
from rag.models import Answer, DocumentSummary, Passage


def passage_to_dict(passage: Passage) -> dict[str, Any]:
    chunk = passage.chunk
    return {
        "id": chunk.id,
        "document": chunk.document,
        "turn": chunk.turn,
        "part": chunk.part,
        "speaker": chunk.speaker,
        "label": chunk.label,
        "text": chunk.text,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "score": round(passage.score, 6),
        "dense_score": None if passage.dense_score is None else round(passage.dense_score, 6),
        "ranks": dict(passage.ranks),
    }


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """``Answer`` as the API shows it (tests/test_output.py checks both have the same fields), keys in the API's order."""
    return {
        "question": answer.question,
        "answer": answer.answer,
        "refused": answer.refused,
        "refusal_reason": answer.refusal_reason,
        "generator": answer.generator,
        "fallback": answer.fallback,
        "citations": [asdict(citation) for citation in answer.citations],
        "passages": [passage_to_dict(passage) for passage in answer.passages],
        "quotes_dropped": answer.quotes_dropped,
        "quotes_repaired": answer.quotes_repaired,
        "summary_dropped": answer.summary_dropped,
        "scope": list(answer.scope),
        "timings_ms": dict(answer.timings_ms),
    }


def person_to_dict(person: Person) -> dict[str, Any]:
    return {
        "speaker": person.id,
        "name": person.name,
        "role": person.role,
        "labels": list(person.labels),
        "aliases": list(person.aliases),
        "documents": list(person.documents),
        "turns": person.turns,
    }


def document_to_dict(summary: DocumentSummary) -> dict[str, Any]:
    """A document's record with its resolved date and the people who speak in it."""
    # ``voices`` is the index's bookkeeping for loading; ``speakers`` says who speaks.
    record = {name: value for name, value in asdict(summary.record).items() if name != "voices"}
    return {**record, "date": summary.date, "speakers": list(summary.speakers)}
