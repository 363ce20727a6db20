"""LLM generators: a prompt file, a chat backend, and a parser for what comes back.

Two backends speak the same chat-completions shape: any OpenAI-compatible HTTP endpoint
(``OpenAIChat``) and a GGUF model run in-process by llama-cpp-python (``LlamaCppChat``).
Both are asked for JSON that follows ``ANSWER_SCHEMA``; output that is not such JSON is
read as prose with ``"quoted text" [n]`` markers instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from rag.errors import BackendUnavailable, BadBackendOutput, GeneratorError, LlamaNotInstalled, VerbatimError
from rag.generators.base import Draft, DraftQuote, Message
from rag.generators.replies import json_object_in
from rag.models import Passage
from rag.generators.prompts import PromptTemplate

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "quotes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"passage": {"type": "integer"}, "text": {"type": "string"}},
                "required": ["passage", "text"],
            },
        },
        "refused": {"type": "boolean"},
    },
    "required": ["summary", "quotes", "refused"],
}
_MARKED_QUOTE = re.compile(r"[\"“]([^\"”]{8,}?)[\"”]\s*\[(\d+)\]")


class ChatBackend(Protocol):
    """Sends chat messages and returns the reply's text."""

    name: str

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any] | None, max_tokens: int) -> str: ...


class OpenAIChat:
    """Any OpenAI-compatible chat endpoint, through the official ``openai`` client.

    Structured output is asked for in the first shape the backend accepts: OpenAI's
    ``json_schema``, then llama.cpp's ``json_object`` with a ``schema``, then plain text.
    """

    _FORMATS = ("json_schema", "json_object", None)

    def __init__(self, base_url: str, model: str, api_key: str, timeout_s: float) -> None:
        import openai

        self._openai = openai
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)
        self.model = model
        self.name = "openai"
        self._format_index = 0

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any] | None, max_tokens: int) -> str:
        while True:
            style = self._FORMATS[self._format_index] if schema is not None else None
            request: dict[str, Any] = {
                "model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0,
            }
            if style == "json_schema":
                request["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
            elif style == "json_object":
                request["response_format"] = {"type": "json_object", "schema": schema}
            try:
                response = self._client.chat.completions.create(**request)
                break
            except (self._openai.APIConnectionError, self._openai.APITimeoutError) as exc:
                raise BackendUnavailable(f"the LLM backend is unreachable: {exc}") from exc
            except self._openai.APIStatusError as exc:
                # Backends answer an unknown response_format with 400, 422 or even 500.
                if style is not None and exc.status_code in (400, 422, 500):
                    self._format_index += 1
                    continue
                raise BackendUnavailable(f"the LLM backend failed with HTTP {exc.status_code}") from exc
            except self._openai.APIResponseValidationError as exc:
                raise BadBackendOutput(f"the LLM backend's reply does not follow the API: {exc}") from exc
            except self._openai.OpenAIError as exc:
                raise GeneratorError(f"the LLM backend request failed: {exc}") from exc
        try:
            content = response.choices[0].message.content if response.choices else None
        except (AttributeError, IndexError, TypeError) as exc:
            # The client builds its models without validating them: a backend's odd JSON surfaces here.
            raise BadBackendOutput("the LLM backend's reply is not a chat completion") from exc
        if content is None:
            raise BadBackendOutput("the LLM backend returned no message")
        return content


class LlamaCppChat:
    """A GGUF model run in-process by llama-cpp-python (the ``local`` extra)."""

    def __init__(self, model_path: Path, n_ctx: int, threads: int) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LlamaNotInstalled() from exc
        try:
            self._llama = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0)
        except (ValueError, RuntimeError) as exc:
            raise GeneratorError(f"cannot load the GGUF model {model_path}: {exc}") from exc
        self.name = "local"

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any] | None, max_tokens: int) -> str:
        response_format = {"type": "json_object", "schema": schema} if schema is not None else None
        try:
            result = self._llama.create_chat_completion(
                messages=messages, response_format=response_format, max_tokens=max_tokens, temperature=0.0
            )
        except ValueError as exc:
            # llama-cpp's way of saying the prompt and the answer do not fit the context window.
            raise GeneratorError(f"the local model cannot take this prompt: {exc}") from exc
        except RuntimeError as exc:  # a failed decode, or the model's memory could not be allocated
            raise BackendUnavailable(f"the local model failed: {exc}") from exc
        try:
            content = result["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BadBackendOutput("the local model's reply is not a chat completion") from exc
        if not content:
            raise BadBackendOutput("the local model returned no message")
        return content


class ScriptedChat:
    """A chat backend that replays canned replies in order: for tests and demos, no model.

    A reply that is an exception instance is raised instead of returned.
    """

    def __init__(self, replies: Sequence[str | Exception], name: str = "scripted") -> None:
        self._replies = list(replies)
        self.name = name
        self.prompts: list[str] = []

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any] | None, max_tokens: int) -> str:
        self.prompts.append(messages[-1]["content"])
        if not self._replies:
            raise BadBackendOutput("the scripted backend has no reply left")
        reply = self._replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


class LLMGenerator:
    """Renders the answer prompt within a token budget, calls a chat backend, parses a ``Draft``."""

    def __init__(
        self,
        chat: ChatBackend,
        template: PromptTemplate,
        count_tokens,
        *,
        context_tokens: int,
        max_tokens: int,
    ) -> None:
        self.chat = chat
        self.name = chat.name
        self.template = template
        self.count_tokens = count_tokens
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens

    def generate(
        self, question: str, passages: Sequence[Passage], history: Sequence[Message] = (), focus: str | None = None
    ) -> Draft:
        prompt = self.render(question, passages, history)
        try:
            reply = self.chat.complete([{"role": "user", "content": prompt}], ANSWER_SCHEMA, self.max_tokens)
        except VerbatimError:
            raise
        except Exception as exc:  # noqa: BLE001 - any backend, ours or a plugged-in one: its fault is ours to name
            # Only a GeneratorError reaches the extractive fallback; anything else would be a 500.
            raise GeneratorError(f"the {self.chat.name} backend failed: {type(exc).__name__}: {exc}") from exc
        return parse_reply(reply)

    def render(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> str:
        """The prompt with as many passages (best first) as the context budget allows."""
        budget = self.context_tokens - self.max_tokens
        kept = list(passages)
        while True:
            prompt = self.template.render(
                question=question,
                passages=[p.chunk for p in kept],
                history=[{"role": m.role, "content": m.content} for m in history],
            )
            if self.count_tokens(prompt) <= budget or len(kept) <= 1:
                return prompt
            kept.pop()


def parse_reply(reply: str) -> Draft:
    """Read a backend's reply as ``ANSWER_SCHEMA`` JSON, else as prose with ``"quote" [n]`` marks.

    :raises BadBackendOutput: neither shape yields anything.
    """
    data = json_object_in(reply)
    if isinstance(data, dict):
        quotes = []
        for item in data.get("quotes") or []:
            if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip():
                passage = item.get("passage")
                quotes.append(DraftQuote(text=item["text"], passage=passage if isinstance(passage, int) else None))
        summary = data.get("summary") if isinstance(data.get("summary"), str) else ""
        return Draft(quotes=quotes, summary=summary.strip(), refused=bool(data.get("refused")) and not quotes)
    quotes = [DraftQuote(text=m.group(1), passage=int(m.group(2))) for m in _MARKED_QUOTE.finditer(reply)]
    if not quotes:
        raise BadBackendOutput("the LLM reply holds neither the answer JSON nor any marked quotation")
    return Draft(quotes=quotes)


