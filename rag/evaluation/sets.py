"""Eval sets: JSONL questions with their gold data, parsed and checked against the transcripts.

The schema (one ``EvalQuestion`` per line) is documented in ``eval/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rag.errors import EvalSetError
from rag.evaluation.metrics import EvalQuestion
from rag.models import Transcript

_FIELDS: dict[str, type | tuple[type, ...]] = {
    "qid": str, "document": str, "question": str, "answerable": bool, "gold_turns": list,
    "expected_speakers": list, "key_phrases": list, "kinds": list, "note": str,
}
_REQUIRED = ("qid", "document", "question", "answerable")


def parse_set(lines: Iterable[str], source: str) -> list[EvalQuestion]:
    """Parse JSONL eval-set lines (blank lines skipped).

    :raises EvalSetError: bad JSON, a missing or mistyped field, a repeated qid, or gold data
        on an unanswerable question (or none on an answerable one).
    """
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{where}: invalid JSON ({exc.msg})") from exc
        question = _question_from(raw, where)
        if question.qid in seen:
            raise EvalSetError(f"{where}: qid {question.qid!r} appears twice")
        seen.add(question.qid)
        questions.append(question)
    if not questions:
        raise EvalSetError(f"{source}: the set has no questions")
    return questions


def _question_from(raw: Any, where: str) -> EvalQuestion:
    if not isinstance(raw, dict):
        raise EvalSetError(f"{where}: a line must be a JSON object")
    missing = [name for name in _REQUIRED if name not in raw]
    if missing:
        raise EvalSetError(f"{where}: missing field(s) {missing}")
    for name, kind in _FIELDS.items():
        if name in raw and not isinstance(raw[name], kind):
            raise EvalSetError(f"{where}: field {name!r} has the wrong type")
    gold = raw.get("gold_turns", [])
    if not all(isinstance(turn, int) and not isinstance(turn, bool) for turn in gold):
        raise EvalSetError(f"{where}: gold_turns must be integers")
    for name in ("expected_speakers", "key_phrases", "kinds"):
        if not all(isinstance(item, str) and item for item in raw.get(name, [])):
            raise EvalSetError(f"{where}: {name} must be non-empty strings")
    question = EvalQuestion(
        qid=raw["qid"], document=raw["document"], question=raw["question"], answerable=raw["answerable"],
        gold_turns=tuple(gold), expected_speakers=tuple(raw.get("expected_speakers", [])),
        key_phrases=tuple(raw.get("key_phrases", [])), kinds=tuple(raw.get("kinds", [])), note=raw.get("note", ""),
    )
    if question.answerable and not question.gold_turns:
        raise EvalSetError(f"{where}: an answerable question needs gold_turns")
    if not question.answerable and (question.gold_turns or question.key_phrases or question.expected_speakers):
        raise EvalSetError(f"{where}: an unanswerable question has no gold turns, key phrases or speakers")
    return question


def check_against_transcripts(questions: Sequence[EvalQuestion], transcripts: Mapping[str, Transcript]) -> None:
    """Check that each question's gold data exists in its transcript.

    :raises EvalSetError: an unknown document, a gold turn out of range, a key phrase that is
        not an exact substring, or an expected speaker who never speaks there.
    """
    for question in questions:
        transcript = transcripts.get(question.document)
        if transcript is None:
            raise EvalSetError(f"{question.qid}: no transcript {question.document!r}")
        outside = [turn for turn in question.gold_turns if not 0 <= turn < len(transcript.turns)]
        if outside:
            raise EvalSetError(f"{question.qid}: gold turns {outside} are outside {transcript.id}")
        absent = [phrase for phrase in question.key_phrases if phrase not in transcript.text]
        if absent:
            raise EvalSetError(f"{question.qid}: key phrases not in {transcript.id}: {absent}")
        strangers = [s for s in question.expected_speakers if s not in transcript.speakers]
        if strangers:
            raise EvalSetError(f"{question.qid}: {strangers} never speak in {transcript.id}")


