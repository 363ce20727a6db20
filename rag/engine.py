"""The composition root: build Verbatim's components from ``Settings`` (used by the CLI and API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rag.answering.answerer import AnswerOptions, Answerer, make_verifier_cache
from rag.answering.refusal import load_refusal_model
from rag.embedders.embedding import Embedder, load_embedder
from rag.errors import GeneratorError, UnknownDocument
from rag.generators.extractive import ExtractiveGenerator
from rag.generators.base import Generator
from rag.local.gguf import assemble_gguf
from rag.indexing.index import MANIFEST, SPEAKER_MAP, TranscriptIndex
from rag.generators.llm import LlamaCppChat, LLMGenerator, OpenAIChat
from rag.indexing.persons import SpeakerMap
from rag.generators.prompts import load_prompt
from rag.retrieval.retriever import RetrievalTuning, Retriever
from rag.retrieval.scope import filter_documents
from rag.settings import Settings
from rag.retrieval.speakers import SpeakerDirectory
from rag.generators.tokens import TokenCounter

GENERATORS = ("extractive", "openai", "local")


@dataclass(frozen=True)
class Snapshot:
    """One loaded generation of the index with what answers from it; replaced whole on reload.

    ``stamp`` identifies what was on disk when it was loaded (see ``disk_stamp``).
    """

    path: Path
    index: TranscriptIndex
    answerer: Answerer
    stamp: tuple[int, ...]


@dataclass
class Engine:
    """A loaded index with its retriever, and the generators built so far."""

    settings: Settings
    embedder: Embedder
    counter: TokenCounter
    snapshot: Snapshot
    _generators: dict[str, Generator] = field(default_factory=dict)

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None, index_path: Path | None = None) -> Engine:
        """Load the embedder and the index at ``index_path`` (default: the settings')."""
        embedder = embedder or load_embedder(settings.embedder, settings.embed_batch_size)
        counter = TokenCounter(settings.tokenizer_encoding)
        return cls(settings, embedder, counter, load_snapshot(settings, embedder, index_path))

    @property
    def index(self) -> TranscriptIndex:
        return self.snapshot.index

    @property
    def answerer(self) -> Answerer:
        return self.snapshot.answerer

    def reload(self, index_path: Path | None = None) -> None:
        """Pick up a new generation of the index (after an ingest or a delete) in one assignment."""
        self.snapshot = load_snapshot(self.settings, self.embedder, index_path or self.snapshot.path)

    def reload_if_changed(self) -> bool:
        """Reload when another process (``rag ingest``, an edited speaker map) changed the index on disk."""
        if disk_stamp(self.settings, self.snapshot.path) == self.snapshot.stamp:
            return False
        self.reload()
        return True

    def generator(self, name: str | None = None) -> Generator:
        """The generator called ``name`` (default: the configured one), built once."""
        name = name or self.settings.generator
        if name not in GENERATORS:
            raise GeneratorError(f"unknown generator {name!r}; choose one of {GENERATORS}")
        if name not in self._generators:
            self._generators[name] = self._build_generator(name)
        return self._generators[name]

    def use_generator(self, name: str, generator: Generator) -> None:
        """Answer with ``generator`` for ``name`` instead of building it from the settings
        (a backend built elsewhere, or a fake such as ``LLMGenerator(ScriptedChat(...))``)."""
        if name not in GENERATORS:
            raise GeneratorError(f"unknown generator {name!r}; choose one of {GENERATORS}")
        self._generators[name] = generator

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

    def options(self, *, date_from: str | None = None, date_to: str | None = None, place: str | None = None,
                **overrides) -> AnswerOptions:
        """Answer options from the settings, the request's ``overrides``, and its document filters."""
        documents = self.select_documents(overrides.pop("document", None), date_from, date_to, place)
        if documents is not None:
            overrides["documents"] = documents
        s = self.settings
        values = dict(
            k=s.top_k, mode=s.retriever, speaker_aware=s.speaker_aware, max_question_chars=s.max_question_chars, min_summary_support=s.min_summary_support,
        )
        values.update({key: value for key, value in overrides.items() if value is not None})
        return AnswerOptions(**values)

    def _build_generator(self, name: str) -> Generator:
        s = self.settings
        if name == "extractive":
            return ExtractiveGenerator(
                self.embedder, max_quotes=s.extractive_max_quotes,
                question_penalty=s.extractive_question_penalty, answer_bonus=s.extractive_answer_bonus,
            )
        template = load_prompt("answer.j2", s.prompts_dir)
        if name == "openai":
            if not s.openai_base_url:
                raise GeneratorError("the openai generator needs VERBATIM_OPENAI_BASE_URL")
            chat = OpenAIChat(s.openai_base_url, s.openai_model, s.openai_api_key.get_secret_value(), s.llm_timeout_s)
        else:
            model_path = assemble_gguf(s.local_model, s.cache_dir / "models")
            chat = LlamaCppChat(model_path, s.llm_context_tokens, s.local_threads)
        return LLMGenerator(
            chat, template, self.counter.count, context_tokens=s.llm_context_tokens, max_tokens=s.llm_max_tokens
        )


def load_index(settings: Settings, embedder_name: str | None = None, index_path: Path | None = None) -> TranscriptIndex:
    """The index at ``index_path`` (default: the settings'), its speakers resolved to persons."""
    path = index_path or settings.index_path
    speaker_map = SpeakerMap.load(_speaker_map_path(settings, path))
    return TranscriptIndex.load(path, embedder_name).resolved(speaker_map)


def load_snapshot(settings: Settings, embedder: Embedder, index_path: Path | None = None) -> Snapshot:
    path = index_path or settings.index_path
    # Taken before reading: a commit landing during the load is seen, and loaded, next time.
    stamp = disk_stamp(settings, path)
    index = load_index(settings, embedder.name, path)
    return Snapshot(path, index, build_answerer(index, embedder, settings), stamp)


def disk_stamp(settings: Settings, index_path: Path) -> tuple[int, ...]:
    """When the manifest and the speaker map last changed (0: absent); a commit rewrites the manifest."""
    stamps = []
    for path in (index_path / MANIFEST, _speaker_map_path(settings, index_path)):
        try:
            stamps.append(path.stat().st_mtime_ns)
        except OSError:
            stamps.append(0)
    return tuple(stamps)


def _speaker_map_path(settings: Settings, index_path: Path) -> Path:
    return settings.speaker_map or index_path / SPEAKER_MAP


def build_answerer(index: TranscriptIndex, embedder: Embedder, settings: Settings) -> Answerer:
    tuning = RetrievalTuning(
        candidate_k=settings.candidate_k, rrf_k=settings.rrf_k, fusion=settings.fusion, dense_weight=settings.dense_weight,
        context_window=settings.context_window, context_weight=settings.context_weight,
        short_chunk_terms=settings.short_chunk_terms, speaker_boost=settings.speaker_boost,
        exchange_boost=settings.exchange_boost,
    )
    retriever = Retriever(index, embedder, tuning=tuning)
    return Answerer(
        retriever=retriever,
        directory=SpeakerDirectory(index.transcripts.values()),
        verifier_for=make_verifier_cache(index.transcripts, settings.repair_min_similarity),
        refusal=load_refusal_model(settings.refusal_model),
    )
