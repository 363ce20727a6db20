"""The generator protocol: passages in, a draft answer with quotations out (not yet verified)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

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


def previous_question(history: Sequence[Message]) -> str | None:
    """The last question the user asked before this one, if any."""
    asked = [m.content for m in history if m.role == "user"]
    return asked[-1] if asked else None
