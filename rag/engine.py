"""The composition root: build Verbatim's components from ``Settings`` (used by the CLI and API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rag.answering import AnswerOptions, Answerer, make_verifier_cache
from rag.embedding import Embedder, load_embedder
from rag.errors import GeneratorError
from rag.extractive import ExtractiveGenerator
from rag.generation import Generator
from rag.gguf import assemble_gguf
from rag.index import TranscriptIndex
from rag.llm import LlamaCppChat, LLMGenerator, OpenAIChat
from rag.prompts import PromptTemplate
from rag.retrieval import RetrievalTuning, Retriever
from rag.settings import Settings
from rag.speakers import SpeakerDirectory
from rag.tokens import TokenCounter

GENERATORS = ("extractive", "openai", "local")


@dataclass
class Engine:
    """A loaded index with its retriever, and the generators built so far."""

    settings: Settings
    embedder: Embedder
    counter: TokenCounter
    index: TranscriptIndex
    answerer: Answerer
    _generators: dict[str, Generator] = field(default_factory=dict)

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None, index_path: Path | None = None) -> Engine:
        """Load the embedder and the index at ``index_path`` (default: the settings')."""
        embedder = embedder or load_embedder(settings.embedder, settings.embed_batch_size)
        counter = TokenCounter(settings.tokenizer_encoding)
        index = TranscriptIndex.load(index_path or settings.index_path, embedder.name)
        return cls(settings, embedder, counter, index, build_answerer(index, embedder, settings))

    def reload(self, index_path: Path | None = None) -> None:
        """Pick up a new generation of the index (after an ingest or a delete)."""
        self.index = TranscriptIndex.load(index_path or self.settings.index_path, self.embedder.name)
        self.answerer = build_answerer(self.index, self.embedder, self.settings)

    def generator(self, name: str | None = None) -> Generator:
        """The generator called ``name`` (default: the configured one), built once."""
        name = name or self.settings.generator
        if name not in GENERATORS:
            raise GeneratorError(f"unknown generator {name!r}; choose one of {GENERATORS}")
        if name not in self._generators:
            self._generators[name] = self._build_generator(name)
        return self._generators[name]

    def options(self, **overrides) -> AnswerOptions:
        s = self.settings
        values = dict(
            k=s.top_k, mode=s.retriever, speaker_aware=s.speaker_aware, min_dense_score=s.min_dense_score,
            min_lexical_overlap=s.min_lexical_overlap, max_unknown_share=s.max_unknown_share,
            min_dense_score_speaker=s.min_dense_score_speaker,
            max_question_chars=s.max_question_chars, min_summary_support=s.min_summary_support,
        )
        values.update({key: value for key, value in overrides.items() if value is not None})
        return AnswerOptions(**values)

    def _build_generator(self, name: str) -> Generator:
        s = self.settings
        if name == "extractive":
            return ExtractiveGenerator(self.embedder, max_quotes=s.extractive_max_quotes)
        template = PromptTemplate(s.prompts_dir / "answer.j2")
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
    )
