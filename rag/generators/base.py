"""The generator protocol: passages in, a draft answer with quotations out (not yet verified)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from rag.errors import GeneratorError, VerbatimError
from rag.models import Passage


@dataclass(frozen=True)
class Message:
    """One earlier turn of a conversation with Verbatim."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class DraftQuote:
    """A quotation a generator claims, pointing at the 1-based passage it came from."""

    text: str
    passage: int | None = None


@dataclass(frozen=True)
class Draft:
    """A generator's answer before verification.

    ``summary`` is optional prose that refers to quotes as ``[n]`` (1-based positions in
    ``quotes``); the quotations themselves are shown only once verified.
    """

    quotes: list[DraftQuote] = field(default_factory=list)
    summary: str = ""
    refused: bool = False


class Generator(Protocol):
    """Drafts an answer to a question from retrieved passages."""

    name: str

    def generate(
        self, question: str, passages: Sequence[Passage], history: Sequence[Message] = (), focus: str | None = None
    ) -> Draft:
        """Draft an answer; ``focus`` is what to look for (the question's topic in context)."""
        ...


class GuardedGenerator:
    """A generator whose every failure is a ``GeneratorError``, which the answerer's fallback handles.

    Backend libraries raise their own types (llama-cpp a ``ValueError`` on a full context, FAISS a
    ``RuntimeError``), and a bug raises anything: none of them may turn an answer into a 500.
    """

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.name = inner.name

    def generate(
        self, question: str, passages: Sequence[Passage], history: Sequence[Message] = (), focus: str | None = None
    ) -> Draft:
        try:
            return self.inner.generate(question, passages, history, focus=focus)
        except GeneratorError:
            raise
        except Exception as exc:
            raise GeneratorError(f"the {self.name} generator failed: {type(exc).__name__}: {exc}") from exc


class UnavailableGenerator:
    """Stands for a generator that could not be built, so that the fallback answers in its place."""

    def __init__(self, name: str, error: VerbatimError) -> None:
        self.name = name
        self.error = error

    def generate(
        self, question: str, passages: Sequence[Passage], history: Sequence[Message] = (), focus: str | None = None
    ) -> Draft:
        raise GeneratorError(f"the {self.name} generator is unavailable: {self.error}") from self.error


def previous_question(history: Sequence[Message]) -> str | None:
    """The last question the user asked before this one, if any."""
    asked = [m.content for m in history if m.role == "user"]
    return asked[-1] if asked else None
