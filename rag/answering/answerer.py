"""Answering: retrieve, decide whether the transcript covers the question, draft, verify, compose."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from dataclasses import dataclass, field

from rag.errors import GeneratorError, QuestionError
from rag.generators.base import Draft, Generator, Message, previous_question
from rag.answering.followup import only_points_back, refers_back
from rag.answering.grounding import grounding
from rag.answering.refusal import RefusalModel, evidence_features
from rag.retrieval.lexical import content_terms
from rag.models import Answer, Citation, Passage, Transcript
from rag.indexing.persons import ROLE_QUESTIONER, display_name
from rag.retrieval.retriever import Mode, Retriever
from rag.retrieval.scope import describe, document_date, scope_of
from rag.retrieval.speakers import SpeakerDirectory
from rag.answering.verify import QuoteVerifier

logger = logging.getLogger("verbatim.answering")
NOT_COVERED = "The transcript does not cover this question."
NO_SUBJECT = "The question refers to an earlier one that is not in this conversation; ask it with its subject."
DECLINED = "The passages retrieved do not answer this question."
_MARKER = re.compile(r"\[(\d+)\]")
_INLINE_QUOTE = re.compile(r"[\"“]([^\"”]*)[\"”]")


@dataclass(frozen=True)
class AnswerOptions:
    """How to answer one question: ``Engine.options`` fills it from ``Settings`` and the request.

    The tuned fields have no defaults here: their values, and why, are in ``Settings``.
    """

    k: int
    mode: Mode
    speaker_aware: bool
    max_question_chars: int
    min_summary_support: float
    speaker: str | None = None
    document: str | None = None
    # Explicit filters already resolved to documents (``rag.retrieval.scope.filter_documents``); None is all.
    documents: tuple[str, ...] | None = None
    # Confine a question that names a place or date of some documents ("in Rome") to those.
    scope_by_question: bool = True


@dataclass(frozen=True)
class Assessment:
    """What retrieval found for a question, and whether it covers it (before any drafting).

    ``refusal`` is set when the question is refused before drafting: a named person who never
    speaks, nothing to search, or passages the refusal model judges not to cover it.
    """

    query: str
    passages: list[Passage]
    documents: tuple[str, ...] | None
    history: tuple[Message, ...]
    features: dict[str, float] | None = None
    covered: float | None = None
    refusal: str | None = None


@dataclass
class Answerer:
    """Everything needed to answer questions over one loaded index."""

    retriever: Retriever
    directory: SpeakerDirectory
    verifier_for: Callable[[str], QuoteVerifier]
    refusal: RefusalModel
    _document_terms: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def answer(
        self,
        question: str,
        generator: Generator,
        options: AnswerOptions,
        *,
        history: Sequence[Message] = (),
        fallback: Generator | None = None,
    ) -> Answer:
        """Answer ``question`` with verified quotations, or refuse.

        :param generator: drafts the answer from the retrieved passages.
        :param fallback: used, and the answer labelled ``fallback``, when ``generator`` fails
            or none of its quotations survive verification.
        :raises QuestionError: the question is empty or too long.
        """
        started = time.perf_counter()
        question = validate_question(question, options.max_question_chars)
        timings: dict[str, float] = {}
        assessed = self.assess(question, options, history=history, timings=timings)
        documents, query, passages, history = assessed.documents, assessed.query, assessed.passages, assessed.history
        if assessed.refusal is not None:
            return _refusal(question, generator.name, assessed.refusal, timings, started, passages)

        answer = self._draft_and_verify(question, query, passages, generator, history, timings, options)
        if fallback is not None and (answer is None or (not answer.citations and answer.refusal_reason != DECLINED)):
            answer = self._draft_and_verify(question, query, passages, fallback, history, timings, options)
            if answer is not None:
                answer.fallback = True
        if answer is None:
            return _refusal(question, generator.name, "The answer generator failed.", timings, started, passages)
        if documents is not None and documents != options.documents and not answer.refused:
            # The question named a place or date: say which press conference the words come from.
            answer.scope = list(documents)
            answer.answer = f"From {'; '.join(describe(self._records[d]) for d in documents)}:\n{answer.answer}"
        answer.timings_ms = {**timings, "total": _ms(started)}
        return answer

    def assess(
        self, question: str, options: AnswerOptions, *, history: Sequence[Message] = (),
        timings: dict[str, float] | None = None,
    ) -> Assessment:
        """Retrieve for ``question`` and decide whether the passages cover it.

        ``eval/fit_refusal.py`` fits the refusal model on the features computed here.
        """
        documents, asked = self._scope(question, options)
        mention = self.directory.mention(asked)
        speakers = self.resolve_speakers(options, mention.speakers)
        if mention.absent and not speakers:
            names = ", ".join(mention.absent)
            reason = f"{names} does not speak in {self._where(documents)}."
            return Assessment(asked, [], documents, (), refusal=reason)

        # Once the speaker filter holds the "who", the search is about the "what". A follow-up
        # ("and what did Kerry say about it?") borrows the "what" of the previous question; a
        # question with a subject of its own starts afresh, and the conversation is not passed on.
        query = mention.topic if speakers else asked
        earlier = previous_question(history)
        if earlier and refers_back(mention.topic):
            query = f"{self.directory.mention(earlier).topic} {query}"
        elif only_points_back(mention.topic):
            # "What did Kerry say about it?" with nothing before it: searching Kerry's turns for
            # "it" would quote him on whatever scores best, an answer to a question nobody asked.
            return Assessment(asked, [], documents, (), refusal=NO_SUBJECT)
        else:
            history = ()
        clock = time.perf_counter()
        passages = self.retriever.search(query, options.k, mode=options.mode, speakers=speakers, documents=documents)
        if timings is not None:
            timings["retrieval"] = _ms(clock)
        if not passages:
            reason = (
                f"{', '.join(display_name(s) for s in speakers)} does not speak in {self._where(documents, speakers=False)}."
                if speakers else NOT_COVERED
            )
            return Assessment(query, [], documents, tuple(history), refusal=reason)
        known = self.retriever.vocabulary if documents is None else self._terms_of(documents)
        features = evidence_features(query, passages, self.retriever.vocabulary, known, restricted=bool(speakers))
        covered = self.refusal.probability(features)
        return Assessment(
            query, passages, documents, tuple(history), features, covered,
            refusal=None if covered >= self.refusal.threshold else NOT_COVERED,
        )

    def _terms_of(self, documents: tuple[str, ...]) -> set[str]:
        """The content terms of some documents (each document's computed once)."""
        terms: set[str] = set()
        for document in documents:
            if document not in self._document_terms:
                self._document_terms[document] = frozenset(content_terms(self.retriever.index.transcript(document).text))
            terms |= self._document_terms[document]
        return terms

    @property
    def _records(self):
        return self.retriever.index.records

    def _scope(self, question: str, options: AnswerOptions) -> tuple[tuple[str, ...] | None, str]:
        """The documents to search, and the question less the place or date that chose them."""
        documents = options.documents
        if options.document:
            documents = (options.document,)
        if documents is not None or not options.scope_by_question:
            return documents, question
        scope = scope_of(question, list(self._records.values()))
        return scope.documents, scope.topic

    def _where(self, documents: tuple[str, ...] | None, *, speakers: bool = True) -> str:
        """The documents searched, named for a refusal message (with their speakers when there is one)."""
        index = self.retriever.index
        chosen = list(documents) if documents is not None else list(index.records)
        if len(chosen) == 1:
            name = "this transcript" if len(index.records) == 1 else describe(self._records[chosen[0]])
            if not speakers:
                return name
            who = ", ".join([p.name for p in index.people(chosen[0]) if p.role != ROLE_QUESTIONER][:8])
            return f"{name} (speakers: {who})"
        if documents is None:
            return f"any of the {len(chosen)} indexed transcripts"
        return "any of " + "; ".join(describe(self._records[d]) for d in chosen)

    def search(self, query: str, options: AnswerOptions) -> list[Passage]:
        """Ranked passages for a search box: an explicit speaker filters; a named one is preferred.

        "What did the Project Manager say about the budget" searches for "the budget" and ranks
        the Project Manager's turns, and the turns around them, higher without hiding the others'.
        """
        if options.speaker:
            speakers = self.resolve_speakers(options)
            return self.retriever.search(
                query, options.k, mode=options.mode, speakers=speakers, documents=options.documents
            )
        mention = self.directory.mention(query)
        if mention.speakers and mention.topic.strip():
            return self.retriever.search(
                mention.topic, options.k, mode=options.mode, documents=options.documents,
                prefer_speakers=mention.speakers,
            )
        return self.retriever.search(query, options.k, mode=options.mode, documents=options.documents)

    def resolve_speakers(self, options: AnswerOptions, mentioned: Sequence[str] = ()) -> list[str]:
        """The speakers to restrict to: the explicit option, else those the question names."""
        if options.speaker:
            named = self.directory.mention(options.speaker).speakers
            return list(named) or [options.speaker.upper()]
        return list(mentioned) if options.speaker_aware else []

    def _draft_and_verify(
        self,
        question: str,
        focus: str,
        passages: list[Passage],
        generator: Generator,
        history: Sequence[Message],
        timings: dict[str, float],
        options: AnswerOptions,
    ) -> Answer | None:
        clock = time.perf_counter()
        try:
            draft = generator.generate(question, passages, history, focus=focus)
        except GeneratorError as exc:
            timings[f"generation_{generator.name}"] = _ms(clock)
            logger.warning("the %s generator failed: %s: %s", generator.name, type(exc).__name__, exc)
            return None
        timings[f"generation_{generator.name}"] = _ms(clock)
        clock = time.perf_counter()
        answer = self._compose(question, passages, draft, generator.name, options.min_summary_support)
        timings["verification"] = _ms(clock)
        return answer

    def _compose(
        self, question: str, passages: list[Passage], draft: Draft, generator: str, min_summary_support: float
    ) -> Answer:
        """Verify every drafted quote and write the answer from the survivors only.

        The summary is kept only when the surviving quotations (and their speakers) support its
        words (``rag.answering.grounding``); ``min_summary_support`` 0 keeps it whatever it says.
        """
        citations: list[Citation] = []
        renumber: dict[int, list[int]] = {}
        dropped = repaired = 0
        for position, quote in enumerate(draft.quotes, start=1):
            source = passages[quote.passage - 1].chunk if quote.passage and 0 < quote.passage <= len(passages) else None
            documents = [source.document] if source else list(dict.fromkeys(p.chunk.document for p in passages))
            found = None
            for document in documents:
                verifier = self.verifier_for(document)
                prefer = [(p.chunk.char_start, p.chunk.char_end) for p in passages if p.chunk.document == document]
                checks = verifier.check(quote.text, prefer)
                if all(check.found for check in checks):
                    found = (verifier, checks)
                    break
            if found is None:
                dropped += 1
                continue
            verifier, checks = found
            for check in checks:
                if any(c.char_start == check.start and c.document == check.document for c in citations):
                    renumber.setdefault(position, []).append(
                        next(c.id for c in citations if c.char_start == check.start and c.document == check.document)
                    )
                    continue
                turn = verifier.turn_at(check.start, check.end)
                record = self._records[check.document]
                media_start, media_end = verifier.transcript.media_span(check.start, check.end)
                citation = Citation(
                    id=len(citations) + 1, quote=check.source_text, speaker=turn.speaker, label=turn.label,
                    document=check.document, turn=turn.index, char_start=check.start, char_end=check.end,
                    status=check.status, media_start=media_start, media_end=media_end,
                    title=record.title, date=document_date(record), place=record.place,
                )
                citations.append(citation)
                renumber.setdefault(position, []).append(citation.id)
                repaired += check.status == "repaired"
        if not citations:
            # An explicit "no answer here" differs from quotes that failed verification.
            reason = DECLINED if draft.refused else NOT_COVERED
            return Answer(
                question=question, answer=reason, refused=True, generator=generator,
                passages=passages, refusal_reason=reason, quotes_dropped=dropped,
            )
        summary = draft.summary
        # Not the question: a summary that echoes it ("Washington wants to topple the government")
        # can assert what the quotes deny. The speakers' names are fair: "Lavrov said ...".
        sources = [*(c.quote for c in citations), *(c.label for c in citations)]
        summary_dropped = bool(
            summary and min_summary_support > 0
            and not grounding(_MARKER.sub(" ", summary), sources).holds(min_summary_support)
        )
        text = _render("" if summary_dropped else summary, citations, renumber)
        return Answer(
            question=question, answer=text, refused=False, generator=generator, citations=citations,
            passages=passages, quotes_dropped=dropped, quotes_repaired=repaired, summary_dropped=summary_dropped,
        )


def validate_question(question: str, max_chars: int) -> str:
    """The question stripped, or ``QuestionError`` when it is empty or longer than ``max_chars``.

    The length counted is the one sent, spaces included, so that the API's ``maxLength`` says
    exactly what is refused.
    """
    stripped = (question or "").strip()
    if not stripped:
        raise QuestionError("the question is empty")
    if len(question) > max_chars:
        raise QuestionError(f"the question is {len(question)} characters long; the limit is {max_chars}")
    return stripped


def make_verifier_cache(
    transcript: Callable[[str], Transcript], repair_min_similarity: float, size: int
) -> Callable[[str], QuoteVerifier]:
    """One ``QuoteVerifier`` per document, built on first use; the ``size`` most recently used are kept."""
    # lru_cache is thread-safe: requests served in threads share the answerer.
    @lru_cache(maxsize=size)
    def verifier_for(document: str) -> QuoteVerifier:
        return QuoteVerifier(transcript(document), repair_min_similarity)

    return verifier_for


def _render(summary: str, citations: list[Citation], renumber: dict[int, list[int]]) -> str:
    """Summary (its markers renumbered, its unverified quotation marks removed) and quote lines."""
    lines = []
    if summary:
        summary = _MARKER.sub(lambda m: "".join(f"[{i}]" for i in renumber.get(int(m.group(1)), [])), summary)
        # Quotation marks around words that are not a verified quote would pass them off as one.
        verified = [c.quote for c in citations]
        summary = _INLINE_QUOTE.sub(
            lambda m: m.group(0) if any(m.group(1).strip() and m.group(1).strip() in q for q in verified) else m.group(1),
            summary,
        )
        lines.append(re.sub(r"\s{2,}", " ", summary).strip())
    for citation in citations:
        lines.append(f"{display_name(citation.speaker)}: “{citation.quote}” [{citation.id}]")
    return "\n".join(lines)



def _refusal(
    question: str, generator: str, reason: str, timings: dict[str, float], started: float,
    passages: list[Passage] | None = None,
) -> Answer:
    return Answer(
        question=question, answer=reason, refused=True, generator=generator, refusal_reason=reason,
        passages=passages or [], timings_ms={**timings, "total": _ms(started)},
    )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
