"""Answer generators by name: the one list that ``Settings``, the CLI and the API schema offer.

Each factory builds its generator from the settings; heavy modules (the OpenAI client,
llama-cpp) are imported inside the factory, so listing the names costs nothing.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import GeneratorError, ModelError

if TYPE_CHECKING:
    from rag.embedders.embedding import Embedder
    from rag.generators.base import Generator
    from rag.generators.extractive import StoredVectors
    from rag.generators.llm import ChatBackend
    from rag.generators.tokens import TokenCounter
    from rag.settings import Settings

# The token counter comes through a provider: loading tiktoken's encoding takes a quarter of a
# second, and only the LLM generators count tokens.
CounterProvider = Callable[[], "TokenCounter"]
GeneratorFactory = Callable[["Settings", "Embedder", CounterProvider, "StoredVectors | None"], "Generator"]


def _extractive(settings: Settings, embedder: Embedder, counter: CounterProvider, stored: StoredVectors | None
                ) -> Generator:
    from rag.generators.extractive import ExtractiveGenerator

    return ExtractiveGenerator(
        embedder, max_quotes=settings.extractive_max_quotes, min_score=settings.extractive_min_score,
        keep_share=settings.extractive_keep_share, lexical_weight=settings.extractive_lexical_weight,
        question_penalty=settings.extractive_question_penalty, answer_bonus=settings.extractive_answer_bonus,
        stored=stored,
    )


def _openai(settings: Settings, embedder: Embedder, counter: CounterProvider, stored: StoredVectors | None
            ) -> Generator:
    from rag.generators.llm import OpenAIChat

    if not settings.openai_base_url:
        raise GeneratorError("the openai generator needs VERBATIM_OPENAI_BASE_URL")
    chat = OpenAIChat(settings.openai_base_url, settings.openai_model,
                      settings.openai_api_key.get_secret_value(), settings.llm_timeout_s)
    return _llm(chat, settings, counter)


def _local(settings: Settings, embedder: Embedder, counter: CounterProvider, stored: StoredVectors | None) -> Generator:
    from rag.generators.llm import LlamaCppChat
    from rag.local.gguf import assemble_gguf

    model_path = assemble_gguf(settings.local_model, settings.cache_dir / "models")
    return _llm(LlamaCppChat(model_path, settings.llm_context_tokens, settings.local_threads), settings, counter)


def _llm(chat: ChatBackend, settings: Settings, counter: CounterProvider) -> Generator:
    from rag.generators.llm import LLMGenerator
    from rag.generators.prompts import load_prompt

    template = load_prompt("answer.j2", settings.prompts_dir)
    return LLMGenerator(
        chat, template, counter().count, context_tokens=settings.llm_context_tokens, max_tokens=settings.llm_max_tokens
    )


def _always(settings: Settings) -> bool:
    return True


def _openai_configured(settings: Settings) -> bool:
    return bool(settings.openai_base_url)


def _local_installed(settings: Settings) -> bool:
    return _local_model_installed(settings.local_model)


@functools.cache
def _local_model_installed(model_name: str) -> bool:
    """llama-cpp-python and every packaged part of the GGUF are installed (metadata only, nothing loaded)."""
    from rag.local.gguf import locate_parts

    if importlib.util.find_spec("llama_cpp") is None:
        return False
    try:
        locate_parts(model_name)
    except ModelError:
        return False
    return True


@dataclass(frozen=True)
class GeneratorEntry:
    """How to build a generator, and whether this installation and configuration can run it."""

    build: GeneratorFactory
    available: Callable[[Settings], bool]


GENERATORS: dict[str, GeneratorEntry] = {
    "extractive": GeneratorEntry(_extractive, _always),
    "openai": GeneratorEntry(_openai, _openai_configured),
    "local": GeneratorEntry(_local, _local_installed),
}
GENERATOR_NAMES: tuple[str, ...] = tuple(GENERATORS)


def available_generators(settings: Settings) -> list[str]:
    """The generators this installation can run with these settings, in registry order."""
    return [name for name, entry in GENERATORS.items() if entry.available(settings)]


def build_generator(
    name: str, settings: Settings, embedder: Embedder, counter: CounterProvider, stored: StoredVectors | None = None
) -> Generator:
    """The generator registered as ``name``, built from ``settings``.

    :param counter: called for the token counter by the generators that count tokens (the LLM ones).
    :param stored: the sentence vectors ingest stored, for the extractive generator (``None``: it embeds them).
    :raises GeneratorError: no generator of that name, or it is not configured.
    :raises ModelError: its model cannot be found or loaded.
    """
    from rag.generators.base import GuardedGenerator

    entry = GENERATORS.get(name)
    if entry is None:
        raise GeneratorError(f"unknown generator {name!r}; choose one of {GENERATOR_NAMES}")
    return GuardedGenerator(entry.build(settings, embedder, counter, stored))
