"""Verbatim: question answering over speech transcripts, answered with verified verbatim quotations."""

from rag.answering.answerer import AnswerOptions, Answerer
from rag.errors import (
    BackendUnavailable,
    BadBackendOutput,
    GeneratorError,
    IndexCorrupt,
    IndexMismatch,
    IndexNotFound,
    ModelError,
    PromptError,
    QuestionError,
    TranscriptError,
    UnknownDocument,
    VerbatimError,
)
from rag.models import Answer, Chunk, Citation, Passage, QuoteCheck, Transcript, Turn
from rag.settings import Settings

__all__ = [
    "Answer", "AnswerOptions", "Answerer", "BackendUnavailable", "BadBackendOutput", "Chunk", "Citation",
    "GeneratorError", "IndexCorrupt", "IndexMismatch", "IndexNotFound", "ModelError", "Passage", "PromptError",
    "QuestionError", "QuoteCheck", "Settings", "TranscriptError", "Transcript", "Turn", "UnknownDocument",
    "VerbatimError",
]
