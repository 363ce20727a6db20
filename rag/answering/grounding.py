"""Whether an answer's own words stay within what its verified quotations say.

A generator's summary is prose around the quotes, and only the quotes are verified. A small
model writes summaries such as "Saudi Arabia compiles the list" next to a quote that says Jordan
does. No NLI model is packaged, so support is judged lexically: a summary is grounded when
nearly all of its content words occur in the cited quotations (or their speakers' labels), and
every number it states does. A faithful paraphrase in new words fails this test too; the answer
then shows the quotations alone, which is the safe side for a product that must not misquote.
Words alone cannot catch a wrong answer made of the quote's own words ("Jordan" for a question
about a prize); the quotations shown beside it are what the reader can check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rag.retrieval.lexical import content_terms


@dataclass(frozen=True)
class Grounding:
    """How much of a summary its sources support."""

    support: float
    unsupported: tuple[str, ...]

    def holds(self, min_support: float) -> bool:
        """Enough of the words are supported, and no number is invented."""
        return self.support >= min_support and not any(term.isdigit() for term in self.unsupported)


def grounding(summary: str, sources: Iterable[str]) -> Grounding:
    """The share of ``summary``'s content words found in ``sources``, and the words that are not.

    A summary without content words is fully supported (there is nothing to contradict).
    """
    terms = content_terms(summary)
    known = {term for source in sources for term in content_terms(source)}
    unsupported = tuple(dict.fromkeys(term for term in terms if term not in known))
    missing = sum(term not in known for term in terms)
    support = 1.0 - missing / len(terms) if terms else 1.0
    return Grounding(round(support, 4), unsupported)
