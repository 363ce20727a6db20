"""The optional LLM judge: are the answer's own sentences supported by the quotes it cites?

RAGAS/ALCE-style faithfulness: the judge splits the answer's words outside its quotations
into claims and says of each whether the cited quotations support it; the score is supported
claims / claims. Any OpenAI-compatible endpoint can judge (``OpenAIChat`` in ``rag.generators.llm``).
"""

from __future__ import annotations

from typing import Any

from rag.errors import GeneratorError, JudgeError, PromptError
from rag.evaluation.metrics import Judgement
from rag.generators.llm import ChatBackend
from rag.models import Answer
from rag.generators.prompts import PromptTemplate
from rag.generators.replies import json_object_in

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "claims": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"claim": {"type": "string"}, "supported": {"type": "boolean"}},
                "required": ["claim", "supported"],
            },
        }
    },
    "required": ["claims"],
}
NOT_CONFIGURED = "skipped: no judge configured (VERBATIM_JUDGE_BASE_URL or --judge-url)"
NO_OWN_WORDS = "n/a: the extractive generator writes no sentences of its own"
_REFUSED = "refused: nothing to judge"
_ONLY_QUOTES = "the answer has no sentences of its own"


class LLMJudge:
    """Asks a chat backend to check an answer's own sentences against its citations."""

    def __init__(self, chat: ChatBackend, template: PromptTemplate, max_tokens: int) -> None:
        missing = {"question", "statements", "quotes"} - template.variables
        if missing:
            raise PromptError(f"the judge prompt {template.path.name} does not use {sorted(missing)}")
        self.chat = chat
        self.template = template
        self.max_tokens = max_tokens

    def judge(self, question: str, answer: Answer) -> Judgement:
        """The judge's verdict, or a ``Judgement`` whose ``note`` says why there is none."""
        if answer.refused:
            return Judgement(note=_REFUSED)
        statements = own_sentences(answer)
        if not statements:
            return Judgement(note=_ONLY_QUOTES)
        prompt = self.template.render(
            question=question,
            statements=statements,
            quotes=[{"id": c.id, "speaker": c.speaker, "text": c.quote} for c in answer.citations],
        )
        try:
            reply = self.chat.complete([{"role": "user", "content": prompt}], JUDGE_SCHEMA, self.max_tokens)
            return parse_judgement(reply)
        except (GeneratorError, JudgeError) as exc:
            return Judgement(note=f"judge failed: {exc}")


def own_sentences(answer: Answer) -> str:
    """The answer's words that are not its quotation lines (``Speaker: “quote” [n]``)."""
    lines = []
    for line in answer.answer.splitlines():
        is_quote_line = any(line.endswith(f"” [{c.id}]") and c.quote in line for c in answer.citations)
        if line.strip() and not is_quote_line:
            lines.append(line.strip())
    return "\n".join(lines) if answer.citations and not answer.refused else ""


def parse_judgement(reply: str) -> Judgement:
    """Read the judge's reply (``JUDGE_SCHEMA`` JSON, possibly fenced).

    :raises JudgeError: no JSON object, or claims that are not ``{claim, supported}`` pairs.
    """
    data = json_object_in(reply)
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise JudgeError("the judge's reply holds no {\"claims\": [...]} object")
    claims = []
    for item in data["claims"]:
        supported = item.get("supported") if isinstance(item, dict) else None
        if isinstance(supported, str) and supported.lower() in ("true", "false"):
            supported = supported.lower() == "true"
        if not isinstance(supported, bool) or not isinstance(item.get("claim"), str):
            raise JudgeError(f"the judge's claim {item!r} is not a {{claim, supported}} pair")
        claims.append((item["claim"], supported))
    return Judgement(tuple(claims))


