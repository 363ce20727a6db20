"""Every request and response body of the HTTP API, in one place.

The answer and passage schemas mirror ``rag.answering.output`` field for field: the API returns exactly
what ``rag ask --json`` prints.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.formats import FORMAT_NAMES
from rag.generators.registry import GENERATOR_NAMES
from rag.retrieval.retriever import MODES

GeneratorName = Literal[GENERATOR_NAMES]  # type: ignore[valid-type]
RetrieverName = Literal[MODES]  # type: ignore[valid-type]
FormatName = Literal[FORMAT_NAMES]  # type: ignore[valid-type]
DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
# Documents a question that must hold a word; the check itself stays in ``validate_question``, so that
# a blank one is a QuestionError like in the library.
NON_BLANK: dict[str, Any] = {"minLength": 1, "pattern": r"\S"}


# Errors ---------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    type: str = Field(description="The error's class name, e.g. QuestionError or UnknownDocument.")
    message: str = Field(description="What went wrong, safe to show to a user.")


class ErrorResponse(BaseModel):
    """Every non-2xx response has this body."""

    error: ErrorDetail


_ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON, or the Host header is not one the service answers to.",
    401: "An API key is needed, or the one sent is wrong.",
    403: "Writes are disabled, or the Origin is not allowed.",
    404: "No such document, model, job or route.",
    413: "The body is larger than the limit.",
    415: "Wrong Content-Type.",
    422: "The input is invalid (empty or overlong question, bad parameters, bad transcript).",
    429: "Rate limit exceeded; see Retry-After.",
    502: "The answer generator failed.",
    503: "The index is not loaded.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses, all typed ``ErrorResponse``."""
    return {code: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}


def sse_response(description: str, events: dict[str | None, str | None]) -> dict[str, Any]:
    """An OpenAPI response of Server-Sent Events; ``schema`` describes one event (OpenAPI 3.1).

    :param events: event name (``None``: unnamed) -> the component schema its ``data`` is JSON of
        (``None``: text described in ``description`` only).
    """
    kinds = []
    for name, component in events.items():
        data: dict[str, Any] = {"type": "string"}
        if component is not None:
            data["contentMediaType"] = "application/json"
            data["contentSchema"] = {"$ref": f"#/components/schemas/{component}"}
        properties: dict[str, Any] = {"data": data}
        if name is not None:
            properties["event"] = {"const": name}
        kinds.append({"type": "object", "required": ["data", *(["event"] if name else [])], "properties": properties})
    schema = kinds[0] if len(kinds) == 1 else {"oneOf": kinds}
    return {"description": description, "content": {"text/event-stream": {"schema": schema}}}


# Answers --------------------------------------------------------------------------------------


class HistoryMessage(BaseModel):
    """One earlier turn of the conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    """A question, with optional filters and the conversation so far."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "What did Lavrov say about the terrorist list?"}]},
    )

    question: str = Field(
        description="The question; empty or longer than the configured limit is refused.",
        json_schema_extra=NON_BLANK,
    )
    k: int | None = Field(None, ge=1, le=100, description="How many passages to retrieve.")
    speaker: str | None = Field(None, description="Only this speaker's turns (a name, surname or office).")
    document: str | None = Field(None, description="Only this document.")
    date_from: date | None = Field(None, description="Only documents dated on or after this day.")
    date_to: date | None = Field(None, description="Only documents dated on or before this day.")
    place: str | None = Field(None, description="Only documents whose place, venue or title names this.")
    generator: GeneratorName | None = Field(None, description="Default: the configured generator.")
    retriever: RetrieverName | None = Field(None, description="Default: the configured retriever.")
    history: list[HistoryMessage] = Field(
        default_factory=list,
        max_length=100,
        description="Earlier turns, oldest first: a follow-up such as 'and what did Kerry say about it?' resolves.",
    )


class CitationPublic(BaseModel):
    """A verified quotation: ``original_text[char_start:char_end] == quote``."""

    id: int
    quote: str
    speaker: str
    label: str
    document: str
    turn: int
    char_start: int
    char_end: int
    status: Literal["exact", "normalized", "repaired"]
    media_start: float | None = Field(description="Seconds into the recording where the quote starts (timed sources).")
    media_end: float | None = Field(description="Seconds into the recording where the quote ends (timed sources).")
    title: str | None = Field(description="The document's title, from its header.")
    date: str | None = Field(description="The document's date (ISO), from its header or its id.")
    place: str | None = Field(description="Where it was said, from the document's header.")


class PassagePublic(BaseModel):
    """A retrieved chunk of one turn; ``text`` is the document's ``[char_start:char_end]``."""

    id: str
    document: str
    turn: int
    part: int
    speaker: str
    label: str
    text: str
    char_start: int
    char_end: int
    score: float
    dense_score: float | None
    ranks: dict[str, int]


class AnswerPublic(BaseModel):
    """The answer object, the same as ``rag ask --json`` prints."""

    question: str
    answer: str = Field(description="Text with [n] markers referring to the citations.")
    refused: bool
    refusal_reason: str | None
    generator: str
    fallback: bool = Field(description="True when the chosen generator failed and this is the extractive answer.")
    citations: list[CitationPublic]
    passages: list[PassagePublic]
    quotes_dropped: int
    quotes_repaired: int
    summary_dropped: bool = Field(
        description="True when the generator's own sentences were left out because the quotations did not support them."
    )
    scope: list[str] = Field(description="The documents the question named by place or date, when confined to them.")
    timings_ms: dict[str, float]


class TokenEvent(BaseModel):
    """Data of a ``token`` Server-Sent Event: the next piece of the answer text."""

    text: str


# Search ---------------------------------------------------------------------------------------


class SearchResponse(BaseModel):
    query: str
    k: int
    passages: list[PassagePublic]


# Documents ------------------------------------------------------------------------------------


class DocumentSummary(BaseModel):
    """What the index records about one transcript, with its header's metadata."""

    id: str
    sha256: str
    source: str = Field(description="The file name it was read from (never a server path).")
    turns: int
    chunks: int
    speakers: list[str] = Field(description="The people who speak in it (questioners left out).")
    added_at: str
    format: str
    title: str | None
    date: str | None
    place: str | None
    venue: str | None
    time: str | None


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class TurnPublic(BaseModel):
    """One speaker turn; ``text`` is the document's ``[char_start:char_end]``."""

    index: int
    label: str
    speaker: str
    text: str
    char_start: int
    char_end: int
    span_start: int
    span_end: int
    line: int
    flags: list[str]
    media_start: float | None = Field(description="Seconds into the recording (timed sources only).")
    media_end: float | None


class DocumentDetail(DocumentSummary):
    """A transcript with its stored text (which every offset refers to) and its turns."""

    text: str
    turns: list[TurnPublic]


class ContextPublic(BaseModel):
    """The passage around a quotation: ``text[start - offset:end - offset]`` is the quote."""

    document: str
    turn: int
    speaker: str
    label: str
    text: str
    offset: int = Field(description="The original character offset of text[0].")


class SpeakerPublic(BaseModel):
    """A person (or role) once across documents, with every label they appear under."""

    speaker: str = Field(description="The person's id, as citations and the speaker filter use it.")
    name: str
    role: Literal["speaker", "questioner", "moderator", "unnamed"]
    labels: list[str]
    aliases: list[str]
    turns: int
    documents: list[str]


class SpeakerList(BaseModel):
    speakers: list[SpeakerPublic]


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speaker: str
    text: str


class DocumentIn(BaseModel):
    """An uploaded transcript: press-style ``text`` or a list of ``turns`` (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=DOCUMENT_ID_PATTERN, description="The document id, e.g. 'budget-hearing-2024'.")
    text: str | None = Field(None, description="Press-style text: 'SPEAKER: words' lines.")
    turns: list[TurnIn] | None = Field(None, description="Turns as {speaker, text} objects.")
    source: str | None = Field(None, max_length=500, description="Where the transcript comes from.")


class UploadResult(BaseModel):
    status: Literal["added", "replaced", "unchanged"]
    document: DocumentSummary
    seconds: float


class JobPublic(BaseModel):
    """A large upload, indexed in the background: poll ``GET /jobs/{id}`` until done or failed."""

    id: str
    status: Literal["pending", "running", "done", "failed"]
    result: UploadResult | None = Field(description="The upload's result, once done.")
    error: ErrorDetail | None = Field(description="Why it failed, once failed.")


# Health ---------------------------------------------------------------------------------------


class HealthPublic(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyPublic(BaseModel):
    status: Literal["ready"] = "ready"
    documents: int
    chunks: int
    generator: str
    index_generation: int


# OpenAI-compatible ----------------------------------------------------------------------------


class ChatContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ChatContentPart] | None = None


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions request; sampling parameters are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    k: int | None = Field(None, ge=1, le=100, description="Verbatim extension: passages to retrieve.")
    speaker: str | None = Field(None, description="Verbatim extension: only this speaker's turns.")
    document: str | None = Field(None, description="Verbatim extension: only this document.")


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    """An OpenAI ``chat.completion``, plus Verbatim's verified ``citations`` in full."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    citations: list[CitationPublic] = Field(description="Verbatim extension: the quotations the [n] markers cite.")
    refused: bool = Field(description="Verbatim extension: the transcript does not cover the question.")


class ModelPublic(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "verbatim"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelPublic]
