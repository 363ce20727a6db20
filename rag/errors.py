"""Verbatim's exceptions. Every message is safe to show to a user.

Our exception hierarchy:

* VerbatimError
  + TranscriptError        - a transcript cannot be read or parsed
  + IndexError_
    - IndexNotFound        - no index at the given path
    - IndexCorrupt         - an index file is unreadable or inconsistent
    - IndexMismatch        - the index was built with another embedder or format
    - StoreUnavailable     - the configured store is unknown or cannot be reached
    - IndexWriteError      - a commit could not be written (nothing changed)
  + ModelError             - a model (embedder, GGUF) cannot be loaded
    - LlamaNotInstalled    - llama-cpp-python, which runs GGUF models, is not installed
  + GeneratorError         - an answer generator failed
    - BackendUnavailable   - the LLM backend is down or timed out
    - BadBackendOutput     - the LLM answered something unusable
  + QuestionError          - the question is empty or too long
  + UnknownDocument        - a document id that the index does not hold
  + SpeakerMapError        - the user's speaker map file is malformed
  + PromptError            - a prompt template is missing or lacks a variable
  + EvalError              - an evaluation cannot be run as asked
    - EvalSetError         - an eval set file is malformed or contradicts its transcripts
    - EvalConfigError      - the eval config, thresholds, baseline or judge settings are unusable
    - JudgeError           - the LLM judge answered something unusable (recorded, never fatal)
"""

from __future__ import annotations


class VerbatimError(Exception):
    """Base class of every error Verbatim raises on purpose."""


class TranscriptError(VerbatimError):
    """A transcript cannot be read or parsed."""

    def __init__(self, message: str, *, source: str = "", line: int | None = None) -> None:
        where = source + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.line = line


class IndexError_(VerbatimError):
    """The index cannot be used (named with a trailing underscore to leave the builtin alone)."""


class IndexNotFound(IndexError_):
    """No index exists at the given path."""


class IndexCorrupt(IndexError_):
    """An index file is unreadable or inconsistent with the others."""


class IndexMismatch(IndexError_):
    """The index was built with another embedder, dimension or format version."""


class StoreUnavailable(IndexError_):
    """The configured store (``VERBATIM_STORE``) is unknown or cannot be reached."""


class IndexWriteError(IndexError_):
    """A commit could not be written (disk full, permissions); the previous generation stands."""


class SpeakerMapError(VerbatimError):
    """The user's speaker map (merges, renames, names for diarization ids) is malformed."""


class ModelError(VerbatimError):
    """A model (embedder or GGUF) cannot be found or loaded."""


class LlamaNotInstalled(ModelError):
    """llama-cpp-python, which runs the GGUF models, is not installed (the ``local`` extra)."""

    def __init__(self) -> None:
        super().__init__("llama-cpp-python is not installed: pip install -e '.[local]'")


class GeneratorError(VerbatimError):
    """An answer generator failed."""


class BackendUnavailable(GeneratorError):
    """The LLM backend is down, refused the connection or timed out."""


class BadBackendOutput(GeneratorError):
    """The LLM backend answered, but with nothing usable."""


class QuestionError(VerbatimError):
    """The question is empty or too long."""


class UnknownDocument(VerbatimError):
    """The index holds no document with this id."""


class PromptError(VerbatimError):
    """A prompt template is missing or is rendered without a required variable."""


class EvalError(VerbatimError):
    """An evaluation cannot be run as asked."""


class EvalSetError(EvalError):
    """An eval set file is malformed or contradicts its transcripts."""


class EvalConfigError(EvalError):
    """The eval config, thresholds, baseline or judge settings are unusable."""


class JudgeError(EvalError):
    """The LLM judge answered something unusable."""
