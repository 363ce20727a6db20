"""Ingest: transcripts into an index on disk, incrementally and atomically."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.indexing.chunking import chunk_transcript
from rag.embedders.embedding import Embedder
from rag.errors import TranscriptError
from rag.formats import SUFFIXES, read_transcript
from rag.indexing.sentence_vectors import SentenceVectors, chunk_sentences
from rag.models import Chunk, Transcript
from rag.stores.base import StoreBackend, StoreTransaction
from rag.stores.embedded import EmbeddedBackend

Progress = Callable[[str, int, int], None]
# A QMSum-style annotation beside its transcript (``x.turns.json`` next to ``x.txt``).
SIDECAR_SUFFIX = ".turns.json"
# A folder's own documentation (README.md beside the transcripts) is not a transcript.
FOLDER_DOCS = ("readme", "license", "licence", "changelog")
# Where to write: a store backend, or a folder meaning the embedded store there.
Target = StoreBackend | Path


@dataclass
class IngestReport:
    """What an ingest changed, and every file it skipped or rejected with the reason."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    turns: int = 0
    chunks: int = 0
    seconds: float = 0.0


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to read (as given, and a folder's transcripts, sorted), and the files passed over with why.

    A file named explicitly is always read, whatever its extension; in a folder, files of no
    transcript format and annotation sidecars are skipped, and hidden files ignored.
    """
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        for entry in sorted(path.iterdir()):
            if entry.name.startswith(".") or not entry.is_file():
                continue
            if entry.name.endswith(SIDECAR_SUFFIX) and entry.with_name(entry.name[: -len(SIDECAR_SUFFIX)] + ".txt").exists():
                skipped.append((str(entry), "an annotation sidecar of its .txt transcript"))
            elif entry.stem.lower() in FOLDER_DOCS:
                skipped.append((str(entry), "the folder's documentation, not a transcript"))
            elif entry.suffix.lower() in SUFFIXES:
                files.append(entry)
            else:
                skipped.append((str(entry), f"not a transcript format ({', '.join(SUFFIXES)})"))
    return files, skipped


def ingest_files(
    paths: Sequence[Path], target: Target, embedder: Embedder, *, format: str | None = None, **options
) -> IngestReport:
    """Read every file, then ingest those that parse; the others are reported, never half-written.

    Two files with the same document id (``x.txt`` and ``x.vtt``) would replace each other: the
    second is rejected.
    """
    files, skipped = expand_paths(paths)
    transcripts: dict[str, Transcript] = {}
    rejected: list[tuple[str, str]] = []
    for path in files:
        try:
            transcript = read_transcript(path, format=format)
        except TranscriptError as exc:
            rejected.append((str(path), str(exc)))
            continue
        if transcript.id in transcripts:
            rejected.append((str(path), f"same document id {transcript.id!r} as {transcripts[transcript.id].source}"))
            continue
        transcripts[transcript.id] = transcript
    report = ingest_transcripts(list(transcripts.values()), target, embedder, **options)
    report.skipped, report.rejected = skipped, rejected
    return report


@dataclass(frozen=True)
class PreparedTranscript:
    """A transcript chunked and embedded, ready to be written to an index.

    ``sentences`` are the quotable sentences of its chunks that the sentence-vector cache lacked,
    embedded as ``sentence_vectors`` (row i is ``sentences[i]``).
    """

    transcript: Transcript
    chunks: list[Chunk]
    vectors: np.ndarray
    sentences: list[str] = field(default_factory=list)
    sentence_vectors: np.ndarray | None = None


def prepare_transcript(
    transcript: Transcript,
    embedder: Embedder,
    *,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    batch: int,
    progress: Progress | None = None,
    sentences: SentenceVectors | None = None,
    sentence_progress: Progress | None = None,
) -> PreparedTranscript:
    """Chunk and embed ``transcript``: the slow part of an ingest, which needs no lock.

    :param batch: texts handed to the embedder at once (and between two progress reports).
    :param progress: hears the chunks embedded.
    :param sentences: also embed the chunks' quotable sentences that this cache lacks ...
    :param sentence_progress: ... and tell this how many of them are embedded.
    """
    chunks = chunk_transcript(transcript, count_tokens, max_tokens)
    vectors = _embed_with_progress(embedder, [c.text for c in chunks], f"embedding {transcript.id}", progress, batch)
    if sentences is None:
        return PreparedTranscript(transcript, chunks, vectors)
    lacking = sentences.missing(chunk_sentences(c.text for c in chunks))
    label = f"embedding {transcript.id}'s sentences"
    return PreparedTranscript(
        transcript, chunks, vectors, lacking, _embed_with_progress(embedder, lacking, label, sentence_progress, batch)
    )


def ingest_transcripts(
    transcripts: Sequence[Transcript],
    target: Target,
    embedder: Embedder,
    *,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    batch: int,
    progress: Progress | None = None,
    sentences: SentenceVectors | None = None,
) -> IngestReport:
    """Add new transcripts, replace changed ones, skip unchanged ones; save once, atomically.

    :param sentences: the sentence-vector cache to fill with the new chunks' sentences, after the
        commit; when it holds none yet and the index already had documents (built before there was
        such a cache, or with it turned off), the sentences of every stored chunk too.
    :raises IndexMismatch: the index at ``target`` was built with another embedder.
    :raises OSError: the sentence vectors could not be written (the index itself is committed).
    """
    started = time.perf_counter()
    report = IngestReport()
    written: list[PreparedTranscript] = []
    backend = as_backend(target)
    with backend.transaction(embedder.name, embedder.dim) as transaction:
        backfill = sentences is not None and not len(sentences) and bool(transaction.documents())
        for transcript in transcripts:
            if not _is_unchanged(transaction, transcript, report):
                prepared = prepare_transcript(
                    transcript, embedder, count_tokens=count_tokens, max_tokens=max_tokens, batch=batch,
                    progress=progress, sentences=sentences, sentence_progress=progress,
                )
                _put(transaction, prepared, report)
                written.append(prepared)
    _store_sentences(sentences, written)
    if backfill and sentences is not None:
        chunks = backend.open(embedder.name).chunks()
        lacking = sentences.missing(chunk_sentences(chunk.text for chunk in chunks))
        label = "embedding the sentences of the chunks stored before"
        sentences.add(lacking, _embed_with_progress(embedder, lacking, label, progress, batch))
    report.seconds = time.perf_counter() - started
    return report


def commit_prepared(
    prepared: PreparedTranscript, target: Target, embedder: Embedder, sentences: SentenceVectors | None = None
) -> IngestReport:
    """Write a transcript ``prepare_transcript`` embedded beforehand; the write lock is held only to write.

    :param sentences: where to keep the prepared sentence vectors, after the commit.
    :raises IndexMismatch: the index at ``target`` was built with another embedder.
    """
    started = time.perf_counter()
    report = IngestReport()
    with as_backend(target).transaction(embedder.name, embedder.dim) as transaction:
        if not _is_unchanged(transaction, prepared.transcript, report):
            _put(transaction, prepared, report)
    if report.added or report.replaced:
        _store_sentences(sentences, [prepared])
    report.seconds = time.perf_counter() - started
    return report


def _store_sentences(sentences: SentenceVectors | None, prepared: Sequence[PreparedTranscript]) -> None:
    """Add the prepared sentence vectors to the cache; after the commit, so a failed one adds nothing."""
    embedded = [p for p in prepared if p.sentence_vectors is not None and p.sentences]
    if sentences is None or not embedded:
        return
    sentences.add([s for p in embedded for s in p.sentences], np.concatenate([p.sentence_vectors for p in embedded]))


def as_backend(target: Target) -> StoreBackend:
    """``target`` itself, or the embedded store in the folder it names."""
    return EmbeddedBackend(target) if isinstance(target, Path) else target


def _is_unchanged(transaction: StoreTransaction, transcript: Transcript, report: IngestReport) -> bool:
    record = transaction.documents().get(transcript.id)
    if record is not None and record.sha256 == transcript.sha256:
        report.unchanged.append(transcript.id)
        return True
    return False


def _put(transaction: StoreTransaction, prepared: PreparedTranscript, report: IngestReport) -> None:
    transcript = prepared.transcript
    replaced = transcript.id in transaction.documents()
    transaction.put(transcript, prepared.chunks, prepared.vectors)
    (report.replaced if replaced else report.added).append(transcript.id)
    report.turns += len(transcript.turns)
    report.chunks += len(prepared.chunks)


def remove_document(target: Target, embedder: Embedder, document_id: str) -> None:
    """Delete a document from the index.

    :raises UnknownDocument: the index holds no such document.
    """
    with as_backend(target).transaction(embedder.name, embedder.dim) as transaction:
        transaction.remove(document_id)


def _embed_with_progress(
    embedder: Embedder, texts: list[str], label: str, progress: Progress | None, batch: int
) -> np.ndarray:
    """Vectors of ``texts`` in their order, embedded ``batch`` at a time, longest texts first.

    Handing the embedder texts of similar length lets it pad its batches little; in document
    order a handful mixes one-word turns with long speeches.
    """
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    if progress and texts:  # at once: the first batch can take a while on a busy machine
        progress(label, 0, len(texts))
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        vectors[rows] = embedder.embed([texts[i] for i in rows])
        if progress:
            progress(label, min(start + batch, len(texts)), len(texts))
    return vectors
