"""Verbatim's facade and composition root: components built from ``Settings``, used by the CLI and the API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answering.answerer import AnswerOptions, Answerer, make_verifier_cache, validate_question
from rag.embedders.embedding import Embedder, EmbedderConfig, load_embedder
from rag.errors import GeneratorError, ModelError, StoreUnavailable, UnknownDocument
from rag.generators.base import Generator, GuardedGenerator, Message, UnavailableGenerator
from rag.indexing.index import SPEAKER_MAP, TranscriptIndex
from rag.generators.registry import GENERATOR_NAMES, build_generator
from rag.indexing.ingest import (
    IngestReport, PreparedTranscript, Progress, commit_prepared, ingest_files, prepare_transcript, remove_document,
)
from rag.indexing.persons import ROLE_QUESTIONER, Person, SpeakerMap
from rag.indexing.sentence_vectors import SentenceVectors
from rag.models import Answer, DocumentSummary, Passage, Transcript
from rag.answering.refusal import load_refusal_model
from rag.retrieval.derived import DERIVED, load_or_build
from rag.retrieval.retriever import RetrievalTuning, Retriever
from rag.retrieval.scope import document_date, filter_documents
from rag.settings import Settings
from rag.stores.base import StoreBackend
from rag.stores.policy import AnnPolicy, CompactReport, MergePolicy
from rag.stores.registry import open_backend, store_name
from rag.retrieval.speakers import SpeakerDirectory

if TYPE_CHECKING:
    from rag.generators.tokens import TokenCounter



@dataclass(frozen=True)
class Snapshot:
    """One loaded generation of the index with what answers from it; replaced whole on reload.

    Everything a request reads (records, transcripts, retriever, speaker directory, verifiers)
    comes from one snapshot, so a reload in the middle of a request cannot mix two generations.
    ``stamp`` identifies what was stored when it was loaded (see ``disk_stamp``); ``sentence_vectors``
    are the extractive generator's sentence vectors that ingest stored beside the index (``None``:
    not kept, see ``sentence_cache``).
    """

    path: Path
    index: TranscriptIndex
    answerer: Answerer
    stamp: tuple
    sentence_vectors: SentenceVectors | None

    def select_documents(
        self, document: str | None = None, date_from: str | None = None, date_to: str | None = None,
        place: str | None = None,
    ) -> tuple[str, ...] | None:
        """The documents that explicit filters allow (``None``: no filter).

        :raises UnknownDocument: ``document`` is not in the index, or the filters match no document.
        """
        if document:
            self.index.transcript(document)
        chosen = filter_documents(
            self.index.records.values(), document=document, date_from=date_from, date_to=date_to, place=place
        )
        if chosen == ():
            shown = ", ".join(f"{name}={value}" for name, value in
                              (("date_from", date_from), ("date_to", date_to), ("place", place)) if value)
            raise UnknownDocument(f"no document matches {shown}")
        return chosen

    def summary(self, document: str) -> DocumentSummary:
        """A document as listed. :raises UnknownDocument:"""
        self.index.transcript(document)
        record = self.index.records[document]
        speakers = tuple(p.id for p in self.index.people(document) if p.role != ROLE_QUESTIONER)
        return DocumentSummary(record, document_date(record), speakers)


@dataclass(frozen=True)
class Question:
    """A checked question with its options, bound to the snapshot that will answer it."""

    text: str
    options: AnswerOptions
    generator: str
    history: tuple[Message, ...]
    snapshot: Snapshot


@dataclass(frozen=True)
class SearchResult:
    """Ranked passages for a query (as checked), best first."""

    query: str
    k: int
    passages: list[Passage]


@dataclass(frozen=True)
class IndexStatus:
    """How much the loaded index holds."""

    documents: int
    chunks: int
    generation: int


@dataclass
class Engine:
    """Verbatim's facade: the CLI and the API ask, search, list, ingest and delete only through it.

    ``snapshot`` is swapped in one assignment on reload; every method reads it once.
    """

    settings: Settings
    embedder: Embedder
    snapshot: Snapshot
    _generators: dict[str, Generator] = field(default_factory=dict)

    @cached_property
    def counter(self) -> TokenCounter:
        """The LLM prompts' token counter, built when first needed: extractive answers never count tokens."""
        from rag.generators.tokens import TokenCounter

        return TokenCounter(self.settings.tokenizer_encoding)

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None, index_path: Path | None = None) -> Engine:
        """Load the embedder and the index at ``index_path`` (default: the settings').

        :raises IndexNotFound: nothing was ingested there yet.
        """
        from rag.compute_threads import limit_compute_threads

        embedder = embedder or configured_embedder(settings)
        limit_compute_threads(settings.compute_threads)
        return cls(settings, embedder, load_snapshot(settings, embedder, index_path))

    # Asking.

    def question(
        self, text: str, *, generator: str | None = None, history: Sequence[tuple[str, str]] = (), **filters: object
    ) -> Question:
        """Check a question before any work is done, and bind it to the current snapshot.

        :param filters: ``AnswerOptions`` fields (``k``, ``speaker``, ``mode``, ...) and the document
            filters ``document``, ``date_from``, ``date_to``, ``place`` (``None`` means the default).
        :raises QuestionError: empty or overlong question.
        :raises UnknownDocument: ``document`` is not in the index, or the filters match no document.
        :raises GeneratorError: no generator of that name.
        """
        snapshot = self.snapshot
        options = self.options(snapshot, **filters)
        validate_question(text, options.max_question_chars)
        name = generator or self.settings.generator
        if name not in GENERATOR_NAMES:
            raise GeneratorError(f"unknown generator {name!r}; choose one of {GENERATOR_NAMES}")
        turns = self.settings.history_turns
        kept = tuple(Message(role, content) for role, content in history if content.strip())  # type: ignore[arg-type]
        return Question(text, options, name, kept[-turns:] if turns else (), snapshot)

    def answer(
        self, question: Question, *, fallback: bool = True, wrap: Callable[[Generator], Generator] | None = None
    ) -> Answer:
        """Answer a checked question (blocking) from the snapshot it was bound to.

        :param fallback: when an LLM generator fails, answer with the extractive one (labelled ``fallback``).
        :param wrap: applied to each generator before use (the API's cancellation check).
        """
        try:
            chosen = self.generator(question.generator)
        except (GeneratorError, ModelError) as exc:
            if not fallback or question.generator == "extractive":
                raise
            chosen = UnavailableGenerator(question.generator, exc)
        backup = self.generator("extractive") if fallback and chosen.name != "extractive" else None
        if wrap is not None:
            chosen = wrap(chosen)
            backup = wrap(backup) if backup is not None else None
        return question.snapshot.answerer.answer(
            question.text, chosen, question.options, history=question.history, fallback=backup
        )

    def ask(self, text: str, *, generator: str | None = None, history: Sequence[tuple[str, str]] = (),
            fallback: bool = True, **filters: object) -> Answer:
        """``answer(question(...))``: verified quotations, or a refusal with its reason."""
        return self.answer(self.question(text, generator=generator, history=history, **filters), fallback=fallback)

    def search(self, query: str, **filters: object) -> SearchResult:
        """Passages for a search box (see ``Answerer.search``); ``filters`` as for ``question``.

        :raises QuestionError: empty or overlong query.
        :raises UnknownDocument: the document filters match nothing.
        """
        snapshot = self.snapshot
        options = self.options(snapshot, **filters)
        query = validate_question(query, options.max_question_chars)
        return SearchResult(query, options.k, snapshot.answerer.search(query, options))

    def options(self, snapshot: Snapshot | None = None, *, date_from: str | None = None, date_to: str | None = None,
                place: str | None = None, **overrides) -> AnswerOptions:
        """Answer options from the settings, the request's ``overrides``, and its document filters.

        The one place that turns ``Settings`` into ``AnswerOptions``.
        """
        snapshot = snapshot or self.snapshot
        documents = snapshot.select_documents(overrides.pop("document", None), date_from, date_to, place)
        if documents is not None:
            overrides["documents"] = documents
        s = self.settings
        values = dict(
            k=s.top_k, mode=s.retriever, speaker_aware=s.speaker_aware, max_question_chars=s.max_question_chars,
            min_summary_support=s.min_summary_support,
        )
        values.update({key: value for key, value in overrides.items() if value is not None})
        return AnswerOptions(**values)

    # Reading.

    def documents(self) -> list[DocumentSummary]:
        """Every document, by id."""
        snapshot = self.snapshot
        return [snapshot.summary(document) for document in sorted(snapshot.index.records)]

    def document(self, document: str) -> tuple[DocumentSummary, Transcript]:
        """A document as listed, with its stored transcript. :raises UnknownDocument:"""
        snapshot = self.snapshot
        return snapshot.summary(document), snapshot.index.transcript(document)

    def transcript(self, document: str) -> Transcript:
        """A document's stored transcript, speakers resolved to persons. :raises UnknownDocument:"""
        return self.snapshot.index.transcript(document)

    def speakers(self, document: str | None = None) -> list[Person]:
        """The people who speak, over one document or all. :raises UnknownDocument:"""
        return self.snapshot.index.people(document)

    def status(self) -> IndexStatus:
        index = self.snapshot.index
        return IndexStatus(len(index.records), len(index.chunks), index.generation)

    # Writing: each commit is followed by a reload, so the next request sees it.

    @property
    def backend(self) -> StoreBackend:
        """Where the loaded index lives."""
        return open_store(self.settings, self.snapshot.path)

    def ingest(self, paths: Sequence[Path], *, format: str | None = None, progress: Progress | None = None) -> IngestReport:
        """Add, replace or skip transcript files (see ``rag.indexing.ingest.ingest_files``)."""
        report = ingest(self.settings, paths, self.embedder, index_path=self.snapshot.path, format=format,
                        progress=progress)
        if report.added or report.replaced:
            self.reload()
        return report

    def prepare(self, transcript: Transcript, progress: Progress | None = None) -> PreparedTranscript:
        """Chunk and embed a transcript (the slow part; no lock held); ``progress`` hears the chunks embedded."""
        return prepare_transcript(
            transcript,
            self.embedder,
            count_tokens=self.counter.count,
            max_tokens=self.settings.chunk_max_tokens,
            progress=progress,
            batch=self.settings.ingest_batch_size,
            sentences=self.snapshot.sentence_vectors,
        )

    def commit(self, prepared: PreparedTranscript) -> tuple[IngestReport, DocumentSummary]:
        """Write a prepared transcript (unless unchanged) and reload; returns the report and the document."""
        # Written through a cache of its own: the snapshot's is being read by requests meanwhile.
        sentences = sentence_cache(self.settings, self.snapshot.path, self.embedder)
        report = commit_prepared(prepared, self.backend, self.embedder, sentences)
        if report.added or report.replaced:
            self.reload()
        return report, self.snapshot.summary(prepared.transcript.id)

    def remove(self, document: str) -> None:
        """Delete a document and reload. :raises UnknownDocument:"""
        remove_document(self.backend, self.embedder, document)
        self.reload()

    def reload(self, index_path: Path | None = None) -> None:
        """Pick up a new generation of the index (after an ingest or a delete) in one assignment."""
        self.snapshot = load_snapshot(self.settings, self.embedder, index_path or self.snapshot.path)

    def reload_if_changed(self) -> bool:
        """Reload when another process (``rag ingest``, an edited speaker map) changed the index."""
        if disk_stamp(self.settings, self.snapshot.path) == self.snapshot.stamp:
            return False
        self.reload()
        return True

    # Generators.

    def generator(self, name: str | None = None) -> Generator:
        """The generator called ``name`` (default: the configured one), built once."""
        name = name or self.settings.generator
        if name not in self._generators:
            self._generators[name] = build_generator(
                name, self.settings, self.embedder, lambda: self.counter, lambda: self.snapshot.sentence_vectors
            )
        return self._generators[name]

    def use_generator(self, name: str, generator: Generator) -> None:
        """Answer with ``generator`` for ``name`` instead of building it from the settings
        (a backend built elsewhere, or a fake such as ``LLMGenerator(ScriptedChat(...))``)."""
        if name not in GENERATOR_NAMES:
            raise GeneratorError(f"unknown generator {name!r}; choose one of {GENERATOR_NAMES}")
        self._generators[name] = GuardedGenerator(generator)


def ingest(
    settings: Settings, paths: Sequence[Path], embedder: Embedder | None = None, *, index_path: Path | None = None,
    format: str | None = None, progress: Progress | None = None,
) -> IngestReport:
    """Ingest transcript files into the configured store; no index needs to exist yet."""
    from rag.generators.tokens import TokenCounter

    embedder = embedder or configured_embedder(settings)
    counter = TokenCounter(settings.tokenizer_encoding)
    path = index_path or settings.index_path
    sentences = sentence_cache(settings, path, embedder)
    return ingest_files(
        list(paths), open_store(settings, path), embedder, format=format, count_tokens=counter.count,
        max_tokens=settings.chunk_max_tokens, batch=settings.ingest_batch_size, progress=progress,
        sentences=sentences,
    )


def configured_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings`` name, with its query cache."""
    config = EmbedderConfig(
        batch_size=settings.embed_batch_size, batch_tokens=settings.embed_batch_tokens, models_dir=settings.embedders_dir,
        threads=settings.embed_threads,
    )
    return load_embedder(settings.embedder, config, query_cache=settings.query_cache_size)


def open_store(settings: Settings, index_path: Path | None = None) -> StoreBackend:
    """The configured store (``VERBATIM_STORE``) for the index at ``index_path`` (default: the settings')."""
    s = settings
    merge = MergePolicy(s.segment_max_count, s.segment_max_dead_share)
    ann = AnnPolicy(s.ann_min_rows, s.ann_hnsw_m, s.ann_ef_construction, s.ann_ef_search, s.ann_oversample, s.exact_rows)
    return open_backend(s.store, index_path or s.index_path, merge, ann)


def compact(settings: Settings, index_path: Path | None = None) -> CompactReport:
    """Merge the embedded index's segments into one without dead rows; search results do not change.

    :raises StoreUnavailable: the configured store has no segments (Postgres reclaims space itself).
    :raises IndexNotFound: nothing was ever committed there.
    """
    backend = open_store(settings, index_path)
    compact_store = getattr(backend, "compact", None)
    if compact_store is None:
        raise StoreUnavailable(f"the store at {backend.location} has no segments to compact")
    return compact_store()


def load_index(settings: Settings, embedder_name: str | None = None, index_path: Path | None = None) -> TranscriptIndex:
    """The index at ``index_path`` (default: the settings'), its speakers resolved to persons."""
    path = index_path or settings.index_path
    speaker_map = SpeakerMap.load(_speaker_map_path(settings, path))
    return TranscriptIndex(open_store(settings, path).open(embedder_name), speaker_map, settings.transcript_cache_size)


def load_snapshot(settings: Settings, embedder: Embedder, index_path: Path | None = None) -> Snapshot:
    path = index_path or settings.index_path
    # Taken before reading: a commit landing during the load is seen, and loaded, next time.
    stamp = disk_stamp(settings, path)
    index = load_index(settings, embedder.name, path)
    sentences = sentence_cache(settings, path, embedder)
    return Snapshot(path, index, build_answerer(index, embedder, settings, path / DERIVED), stamp, sentences)


def sentence_cache(settings: Settings, index_path: Path, embedder: Embedder) -> SentenceVectors | None:
    """The stored sentence vectors beside a folder index, or ``None`` when not kept.

    Only the embedded store keeps them: its folder is the index. Replicas of a shared Postgres
    store are stateless, and a cache in each one's working folder would be written by one
    replica's uploads and never by the others', so they embed sentences when first quoted.
    """
    if not settings.sentence_vectors or store_name(settings.store) != "embedded":
        return None
    return SentenceVectors(index_path, embedder.name, embedder.dim)


def disk_stamp(settings: Settings, index_path: Path) -> tuple:
    """The store's commit stamp and when the speaker map last changed (0: absent)."""
    try:
        speaker_map = _speaker_map_path(settings, index_path).stat().st_mtime_ns
    except OSError:
        speaker_map = 0
    return (open_store(settings, index_path).stamp(), speaker_map)


def _speaker_map_path(settings: Settings, index_path: Path) -> Path:
    return settings.speaker_map or index_path / SPEAKER_MAP


def build_answerer(index: TranscriptIndex, embedder: Embedder, settings: Settings, derived: Path | None = None) -> Answerer:
    """The answerer of ``index``; a large one searches in candidate mode with structures kept in ``derived``."""
    tuning = RetrievalTuning(
        candidate_k=settings.candidate_k, rrf_k=settings.rrf_k, fusion=settings.fusion, dense_weight=settings.dense_weight,
        context_window=settings.context_window, context_weight=settings.context_weight,
        short_chunk_terms=settings.short_chunk_terms, speaker_boost=settings.speaker_boost,
        exchange_boost=settings.exchange_boost, searched_idf=settings.searched_idf,
        background_weight=settings.background_weight, reply_share=settings.reply_share,
        bm25_k1=settings.bm25_k1, bm25_b=settings.bm25_b, dense_pool=settings.dense_pool,
        lexical_pool=settings.lexical_pool, exact_rows=settings.exact_rows,
    )
    if derived is not None and len(index.chunks) >= settings.scale_min_chunks:
        large = load_or_build(derived, index, settings.bm25_k1, settings.bm25_b)
        retriever = Retriever(index, embedder, tuning=tuning, lexical=large.lexical, candidate_mode=True,
                              moments=large.moments)
    else:
        retriever = Retriever(index, embedder, tuning=tuning)
    return Answerer(
        retriever=retriever,
        directory=SpeakerDirectory(
            ((label, speaker) for _, speaker, label, _ in index.voices), index.texts
        ),
        verifier_for=make_verifier_cache(index.transcript, settings.repair_min_similarity, settings.transcript_cache_size),
        refusal=load_refusal_model(settings.refusal_model),
    )
