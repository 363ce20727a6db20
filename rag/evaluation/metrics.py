"""Evaluation metrics: pure functions from a question, its answer and its transcript to numbers.

Nothing here reads a file or calls a model; ``rag.evaluation.runner`` does the I/O. Every metric is
defined in ``eval/README.md``, and its name here is its key in the JSON report.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Literal

from rag.models import Answer, Citation, Passage, Transcript

Better = Literal["higher", "lower", "none"]
Unit = Literal["rate", "count", "ms"]


@dataclass(frozen=True)
class MetricSpec:
    """One aggregate metric: its report key, its table label, which way is better, its unit."""

    name: str
    label: str
    better: Better
    unit: Unit


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("questions", "questions", "none", "count"),
    MetricSpec("hit_at_k", "retrieval hit@k (gold turn)", "higher", "rate"),
    MetricSpec("recall_at_k", "retrieval recall@k (gold turns)", "higher", "rate"),
    MetricSpec("precision_at_k", "retrieval precision@k (retrieved turns gold)", "higher", "rate"),
    MetricSpec("mrr", "retrieval MRR (gold turn)", "higher", "rate"),
    MetricSpec("phrase_hit_at_k", "retrieval phrase hit@k", "higher", "rate"),
    MetricSpec("phrase_recall_at_k", "retrieval phrase recall@k", "higher", "rate"),
    MetricSpec("citations", "citations", "none", "count"),
    MetricSpec("quote_validity", "quote validity (offsets reproduce quote)", "higher", "rate"),
    MetricSpec("citation_location", "citation turn+speaker match the transcript", "higher", "rate"),
    MetricSpec("quotes_dropped", "quotes dropped by verification", "lower", "count"),
    MetricSpec("quotes_repaired", "quotes repaired by verification", "lower", "count"),
    MetricSpec("summaries_dropped", "summaries left out (quotes do not support them)", "lower", "count"),
    MetricSpec("attribution", "attribution (citations by an expected speaker)", "higher", "rate"),
    MetricSpec("attribution_failures", "answers citing an unexpected speaker", "lower", "count"),
    MetricSpec("absent_attributions", "answers attributing words to a non-speaker", "lower", "count"),
    MetricSpec("coverage", "coverage (key phrases in citations)", "higher", "rate"),
    MetricSpec("refusal_precision", "refusal precision", "higher", "rate"),
    MetricSpec("refusal_recall", "refusal recall", "higher", "rate"),
    MetricSpec("false_refusals", "answerable questions refused", "lower", "count"),
    MetricSpec("missed_refusals", "unanswerable questions answered", "lower", "count"),
    MetricSpec("faithfulness", "faithfulness of own sentences (judge)", "higher", "rate"),
    MetricSpec("latency_p50_ms", "latency p50 (ms)", "lower", "ms"),
    MetricSpec("latency_p95_ms", "latency p95 (ms)", "lower", "ms"),
)
METRIC_BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in METRICS}

# The question kind about a person who never speaks in the transcript (see eval/README.md).
ABSENT_SPEAKER = "absent_speaker"
_PERCENTILES = {"latency_p50_ms": 0.50, "latency_p95_ms": 0.95}
_ROUND = 4


@dataclass(frozen=True)
class EvalQuestion:
    """One question of an eval set, about one document (schema in ``eval/README.md``)."""

    qid: str
    document: str
    question: str
    answerable: bool
    gold_turns: tuple[int, ...] = ()
    expected_speakers: tuple[str, ...] = ()
    key_phrases: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Variant:
    """A retrieval configuration to evaluate: a mode, with or without speaker awareness."""

    mode: str
    speaker_aware: bool

    @property
    def name(self) -> str:
        return self.mode + ("+speakers" if self.speaker_aware else "")


# The comparison of `rag eval --variants`: each retriever alone, then the default configuration.
VARIANTS: tuple[Variant, ...] = (
    Variant("dense", False), Variant("bm25", False), Variant("hybrid", False), Variant("hybrid", True),
)


@dataclass(frozen=True)
class Judgement:
    """The judge's verdict on the answer's own sentences, or why there is none."""

    claims: tuple[tuple[str, bool], ...] = ()
    note: str | None = None

    @property
    def supported(self) -> int:
        return sum(ok for _, ok in self.claims)


@dataclass(frozen=True)
class CitationResult:
    """One citation as checked against the original transcript."""

    id: int
    speaker: str
    turn: int
    char_start: int
    char_end: int
    status: str
    valid: bool
    located: bool
    expected: bool | None


@dataclass
class QuestionResult:
    """Every per-question number of the report."""

    qid: str
    question: str
    document: str
    answerable: bool
    kinds: list[str]
    refused: bool
    refusal_reason: str | None
    answer: str
    latency_ms: float
    retrieved_turns: list[int] = field(default_factory=list)
    hit: float | None = None
    recall: float | None = None
    precision: float | None = None
    reciprocal_rank: float | None = None
    phrase_hit: float | None = None
    phrase_recall: float | None = None
    citations: list[CitationResult] = field(default_factory=list)
    quotes_dropped: int = 0
    quotes_repaired: int = 0
    summary_dropped: bool = False
    absent_attribution: bool = False
    coverage: float | None = None
    missing_phrases: list[str] = field(default_factory=list)
    claims: int | None = None
    supported: int | None = None
    judge_note: str | None = None


# ---- Retrieval ------------------------------------------------------------------------------


def ranked_turns(passages: Sequence[Passage], document: str) -> list[int]:
    """The turns of ``document`` that the passages come from, in rank order, each once."""
    return list(dict.fromkeys(p.chunk.turn for p in passages if p.chunk.document == document))


def hit_at_k(ranked: Sequence[int], gold: Collection[int]) -> float:
    """1.0 when any gold turn was retrieved, else 0.0."""
    return 1.0 if any(turn in gold for turn in ranked) else 0.0


def recall_at_k(ranked: Sequence[int], gold: Collection[int]) -> float:
    """Share of the gold turns that were retrieved."""
    return len(set(ranked) & set(gold)) / len(set(gold))


def precision_at_k(ranked: Sequence[int], gold: Collection[int]) -> float:
    """Share of the retrieved turns that are gold (0.0 when nothing was retrieved)."""
    return sum(turn in gold for turn in ranked) / len(ranked) if ranked else 0.0


def reciprocal_rank(ranked: Sequence[int], gold: Collection[int]) -> float:
    """1 / rank of the first gold turn among the retrieved turns, 0.0 when none was retrieved."""
    return next((1.0 / rank for rank, turn in enumerate(ranked, start=1) if turn in gold), 0.0)


def phrase_locations(text: str, phrase: str) -> list[tuple[int, int]]:
    """Every ``(start, end)`` at which ``phrase`` occurs in ``text``."""
    spans, start = [], text.find(phrase)
    while start >= 0 and phrase:
        spans.append((start, start + len(phrase)))
        start = text.find(phrase, start + 1)
    return spans


def phrases_retrieved(passages: Sequence[Passage], document: str, text: str, phrases: Sequence[str]) -> list[str]:
    """The key phrases with an occurrence that overlaps a retrieved passage of ``document``."""
    spans = [(p.chunk.char_start, p.chunk.char_end) for p in passages if p.chunk.document == document]

    def retrieved(phrase: str) -> bool:
        return any(s < p_end and p_start < e for s, e in phrase_locations(text, phrase) for p_start, p_end in spans)

    return [phrase for phrase in phrases if retrieved(phrase)]


# ---- Citations ------------------------------------------------------------------------------


def quote_is_valid(citation: Citation, text: str) -> bool:
    """Whether the citation's offsets reproduce its quote exactly in the original text."""
    return 0 <= citation.char_start <= citation.char_end <= len(text) and (
        text[citation.char_start : citation.char_end] == citation.quote
    )


def citation_is_located(citation: Citation, transcript: Transcript) -> bool:
    """Whether the turn holding the cited span is the citation's turn, spoken by its speaker."""
    turn = transcript.turn_at(citation.char_start, citation.char_end)
    return turn is not None and turn.index == citation.turn and turn.speaker == citation.speaker


def attributes_to_absent(question: EvalQuestion, answer: Answer, speakers: Collection[str]) -> bool:
    """Whether the answer puts words in the mouth of someone who never spoke.

    That is an answer (not a refusal) to a question about a person absent from the transcript,
    or a citation whose speaker is not one of the transcript's ``speakers``.
    """
    answered_absent = ABSENT_SPEAKER in question.kinds and not answer.refused
    return answered_absent or any(c.speaker not in speakers for c in answer.citations)


def covered_phrases(phrases: Sequence[str], citations: Sequence[Citation]) -> list[str]:
    """The key phrases that occur in one of the cited quotations."""
    return [phrase for phrase in phrases if any(phrase in c.quote for c in citations)]


# ---- Per question -----------------------------------------------------------------------------


def score_question(
    question: EvalQuestion,
    answer: Answer,
    transcript: Transcript,
    latency_ms: float,
    judgement: Judgement | None = None,
) -> QuestionResult:
    """Every per-question metric of ``answer`` to ``question``, checked against ``transcript``.

    ``transcript`` must be parsed from the original file, not taken from the index.
    """
    result = QuestionResult(
        qid=question.qid, question=question.question, document=question.document, answerable=question.answerable,
        kinds=list(question.kinds), refused=answer.refused, refusal_reason=answer.refusal_reason,
        answer=answer.answer, latency_ms=round(latency_ms, 1),
        retrieved_turns=ranked_turns(answer.passages, question.document),
        quotes_dropped=answer.quotes_dropped, quotes_repaired=answer.quotes_repaired,
        summary_dropped=answer.summary_dropped,
        absent_attribution=attributes_to_absent(question, answer, set(transcript.speakers)),
    )
    if question.gold_turns:
        result.hit = hit_at_k(result.retrieved_turns, question.gold_turns)
        result.recall = round(recall_at_k(result.retrieved_turns, question.gold_turns), _ROUND)
        result.precision = round(precision_at_k(result.retrieved_turns, question.gold_turns), _ROUND)
        result.reciprocal_rank = round(reciprocal_rank(result.retrieved_turns, question.gold_turns), _ROUND)
    if question.key_phrases:
        found = phrases_retrieved(answer.passages, question.document, transcript.text, question.key_phrases)
        result.phrase_hit = 1.0 if found else 0.0
        result.phrase_recall = round(len(found) / len(question.key_phrases), _ROUND)
        covered = covered_phrases(question.key_phrases, answer.citations)
        result.coverage = round(len(covered) / len(question.key_phrases), _ROUND)
        result.missing_phrases = [p for p in question.key_phrases if p not in covered]
    result.citations = [
        CitationResult(
            id=c.id, speaker=c.speaker, turn=c.turn, char_start=c.char_start, char_end=c.char_end, status=c.status,
            valid=quote_is_valid(c, transcript.text) and c.document == transcript.id,
            located=citation_is_located(c, transcript),
            expected=(c.speaker in question.expected_speakers) if question.expected_speakers else None,
        )
        for c in answer.citations
    ]
    if judgement is not None:
        result.judge_note = judgement.note
        if judgement.note is None:
            result.claims, result.supported = len(judgement.claims), judgement.supported
    return result


# ---- Aggregates -------------------------------------------------------------------------------


def summarize(results: Sequence[QuestionResult]) -> dict[str, float | int | None]:
    """The aggregate metrics of one run; ``None`` where a metric has nothing to measure."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    refused = [r for r in results if r.refused]
    citations = [c for r in results for c in r.citations]
    judged = [c for c in citations if c.expected is not None]
    claims = sum(r.claims or 0 for r in results)
    latencies = sorted(r.latency_ms for r in results)
    summary: dict[str, float | int | None] = {
        "questions": len(results),
        "hit_at_k": _mean(r.hit for r in answerable),
        "recall_at_k": _mean(r.recall for r in answerable),
        "precision_at_k": _mean(r.precision for r in answerable),
        "mrr": _mean(r.reciprocal_rank for r in answerable),
        "phrase_hit_at_k": _mean(r.phrase_hit for r in answerable),
        "phrase_recall_at_k": _mean(r.phrase_recall for r in answerable),
        "citations": len(citations),
        "quote_validity": _ratio(sum(c.valid for c in citations), len(citations)),
        "citation_location": _ratio(sum(c.located for c in citations), len(citations)),
        "quotes_dropped": sum(r.quotes_dropped for r in results),
        "quotes_repaired": sum(r.quotes_repaired for r in results),
        "summaries_dropped": sum(r.summary_dropped for r in results),
        "attribution": _ratio(sum(bool(c.expected) for c in judged), len(judged)),
        "attribution_failures": sum(any(c.expected is False for c in r.citations) for r in results),
        "absent_attributions": sum(r.absent_attribution for r in results),
        "coverage": _mean(r.coverage for r in answerable),
        "refusal_precision": _ratio(sum(not r.answerable for r in refused), len(refused)),
        "refusal_recall": _ratio(sum(r.refused for r in unanswerable), len(unanswerable)),
        "false_refusals": sum(r.refused for r in answerable),
        "missed_refusals": sum(not r.refused for r in unanswerable),
        "faithfulness": _ratio(sum(r.supported or 0 for r in results), claims),
    }
    for name, share in _PERCENTILES.items():
        summary[name] = round(latencies[max(math.ceil(share * len(latencies)) - 1, 0)], 1) if latencies else None
    return summary


def failures_by_kind(results: Sequence[QuestionResult]) -> dict[str, list[str]]:
    """The qids behind each failure count, for the lead to read rather than guess."""
    return {
        "invalid_quotes": [r.qid for r in results if any(not c.valid for c in r.citations)],
        "mislocated_citations": [r.qid for r in results if any(not c.located for c in r.citations)],
        "attribution_failures": [r.qid for r in results if any(c.expected is False for c in r.citations)],
        "absent_attributions": [r.qid for r in results if r.absent_attribution],
        "false_refusals": [r.qid for r in results if r.answerable and r.refused],
        "missed_refusals": [r.qid for r in results if not r.answerable and not r.refused],
        "summaries_dropped": [r.qid for r in results if r.summary_dropped],
        "retrieval_misses": [r.qid for r in results if r.hit == 0.0],
        "uncovered": [r.qid for r in results if r.coverage is not None and r.coverage < 1.0],
    }


def refusals_by_kind(results: Sequence[QuestionResult]) -> dict[str, dict[str, int]]:
    """For each question kind: how many questions, and how many were refused."""
    table: dict[str, dict[str, int]] = {}
    for result in results:
        for kind in result.kinds:
            row = table.setdefault(kind, {"questions": 0, "refused": 0})
            row["questions"] += 1
            row["refused"] += result.refused
    return dict(sorted(table.items()))


def _mean(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(fmean(present), _ROUND) if present else None


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, _ROUND) if whole else None
