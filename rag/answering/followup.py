"""Whether a question continues the conversation's previous one or starts a new subject (pure)."""

from __future__ import annotations

import re

from rag.retrieval.lexical import query_terms

# "and Kerry?", "but what about ...", "what about it?", "how about Lavrov?"
_CONTINUES = re.compile(r"^\s*(?:and|but|also|so|then|what about|how about|and what about)\b", re.IGNORECASE)
# "anything else", "him too", "say the same", "as well"
_MORE_OF_IT = re.compile(r"\b(?:else|too|as well|the same|either|further|more on)\b", re.IGNORECASE)
# Words that stand for a subject named earlier.
_BACK_REFERENCE = re.compile(r"\b(?:it|its|that|this|these|those|them|there|he|she|him|her|they)\b", re.IGNORECASE)


def refers_back(topic: str) -> bool:
    """Whether ``topic`` (the question less the speakers it names) leans on an earlier question.

    It does when it opens as a continuation ("and Kerry?", "what about it?"), asks for more
    ("anything else?"), or has no subject of its own besides pronouns ("why did he say that?").
    A question with its own subject ("What did Kerry say about Ukraine?") starts afresh.
    """
    if _CONTINUES.search(topic) or _MORE_OF_IT.search(topic):
        return True
    return not has_own_subject(topic)


def has_own_subject(topic: str) -> bool:
    """Whether ``topic`` names something besides pronouns ("about it" does not; "about Ukraine" does)."""
    return bool(query_terms(_BACK_REFERENCE.sub(" ", topic)))


def only_points_back(topic: str) -> bool:
    """Whether ``topic``'s subject is a pronoun and nothing else ("what about it?"), so that it
    means nothing without the question before it ("What did Kerry say?" has no subject, but
    points nowhere: it asks for everything he said)."""
    return bool(_BACK_REFERENCE.search(topic)) and not has_own_subject(topic)
